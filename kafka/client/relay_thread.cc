// A thread started with pthread_create: see relay_thread.h.
#include "kafka/client/relay_thread.h"

#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mayfly::kafka {
namespace {

void* RunBody(void* arg) {
  std::unique_ptr<absl::AnyInvocable<void()>> body(
      static_cast<absl::AnyInvocable<void()>*>(arg));
  (*body)();
  return nullptr;
}

}  // namespace

RelayThread::RelayThread(RelayThread&& other) noexcept
    : thread_(other.thread_), started_(std::exchange(other.started_, false)) {}

RelayThread& RelayThread::operator=(RelayThread&& other) noexcept {
  if (this != &other) {
    Join();
    thread_ = other.thread_;
    started_ = std::exchange(other.started_, false);
  }
  return *this;
}

RelayThread::~RelayThread() { Join(); }

absl::StatusOr<RelayThread> RelayThread::Start(
    absl::AnyInvocable<void()> body) {
  // Ownership of the body passes to the thread (RunBody) once it starts.
  auto* owned = new absl::AnyInvocable<void()>(std::move(body));
  RelayThread thread;
  const int err = ::pthread_create(&thread.thread_, nullptr, RunBody, owned);
  if (err != 0) {
    delete owned;
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start a relay thread: ", std::strerror(err)));
  }
  thread.started_ = true;
  return thread;
}

void RelayThread::Join() {
  if (!started_) return;
  ::pthread_join(thread_, nullptr);
  started_ = false;
}

}  // namespace mayfly::kafka
