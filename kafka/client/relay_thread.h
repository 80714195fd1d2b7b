// RelayThread: a joinable thread whose start can fail without an
// exception. std::thread throws std::system_error when pthread_create
// fails (EAGAIN: threads-max, RLIMIT_NPROC, memory), and the relays start
// their threads inside librdkafka's connect_cb, where an exception would
// end the application. A failed start is a Status the hook turns into a
// refused connect.
//
// ThreadStarter is the seam: RelayEnv carries one, tests give a starter
// that fails or that holds the body back.
//
// Thread-compatible: one owner joins.
#ifndef MAYFLY_KAFKA_CLIENT_RELAY_THREAD_H_
#define MAYFLY_KAFKA_CLIENT_RELAY_THREAD_H_

#include <pthread.h>

#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace mayfly::kafka {

class RelayThread {
 public:
  RelayThread() = default;
  RelayThread(RelayThread&& other) noexcept;
  RelayThread& operator=(RelayThread&& other) noexcept;
  RelayThread(const RelayThread&) = delete;
  RelayThread& operator=(const RelayThread&) = delete;
  // Joins.
  ~RelayThread();

  // Runs `body` on a new thread; ResourceExhausted with pthread_create's
  // error when there is none to be had (the body is then destroyed unrun).
  static absl::StatusOr<RelayThread> Start(absl::AnyInvocable<void()> body);

  bool joinable() const { return started_; }
  void Join();

 private:
  pthread_t thread_{};
  bool started_ = false;
};

// How relays start threads (RelayThread::Start, unless a test says).
using ThreadStarter =
    std::function<absl::StatusOr<RelayThread>(absl::AnyInvocable<void()>)>;

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_RELAY_THREAD_H_
