// The socket hooks and the relays of one handle: see socket_hooks.h.
#include "kafka/client/socket_hooks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kafka/client/client_counters.h"
#include "kafka/client/svid_feed.h"

namespace mayfly::kafka {
namespace {

// Filler writes until librdkafka's end is full: a few KiB (measured 4096
// with SO_SNDBUF at its minimum); the cap only bounds the loop.
constexpr size_t kMaxFiller = 1 << 20;

thread_local HandleContext* current_handle = nullptr;

std::atomic<int64_t> live_contexts{0};

}  // namespace

bool ParseIpPort(absl::string_view text, BrokerTarget& target) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return false;
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr) != 1) return false;
    std::memcpy(&target.addr, &sin6, sizeof(sin6));
    target.addr_len = sizeof(sin6);
    return true;
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) return false;
  std::memcpy(&target.addr, &sin, sizeof(sin));
  target.addr_len = sizeof(sin);
  return true;
}

HandleContext::HandleContext(std::shared_ptr<const RelayEnv> env)
    : env_(std::move(env)) {
  ++live_contexts;
}

HandleContext::~HandleContext() { --live_contexts; }

int64_t HandleContext::Live() { return live_contexts.load(); }

int HandleContext::OpenSocket() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return -1;
  }
  absl::MutexLock lock(&mu_);
  Reap();
  pending_[fds[0]] = identity::UniqueFd(fds[1]);
  return fds[0];
}

int HandleContext::Connect(int fd, const sockaddr* addr, int addr_len,
                           const char* name) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(fd);
  if (it == pending_.end()) return EPERM;  // not a socket we made
  BrokerTarget target;
  if (addr_len <= 0 || static_cast<size_t>(addr_len) > sizeof(target.addr)) {
    return EINVAL;
  }
  std::memcpy(&target.addr, addr, static_cast<size_t>(addr_len));
  target.addr_len = static_cast<socklen_t>(addr_len);
  target.name = name == nullptr ? "" : name;
  if (env_->connect_to) {
    const std::string to = env_->connect_to(target.name);
    if (!to.empty() && !ParseIpPort(to, target)) return EINVAL;
  }
  // A known cause needs no I/O: fail the connect at once.
  if (absl::StatusOr<SvidGeneration> gen =
          env_->feed->NewestUsable(env_->rotation.hard_deadline_margin);
      !gen.ok()) {
    ++env_->counters->svid_unavailable;
    return Refuse(target.name, gen.status(), ENOKEY);
  }
  absl::StatusOr<RelayBudget::Slot> slot =
      env_->budget->Acquire(env_->max_connections);
  if (!slot.ok()) return Refuse(target.name, slot.status(), EMFILE);
  if (const int64_t buffered = env_->budget->buffered();
      buffered >= env_->max_buffered_bytes) {
    return Refuse(target.name,
                  absl::ResourceExhaustedError(absl::StrCat(
                      "the process's relays hold ", buffered,
                      " buffered bytes (ClientOptions.max_buffered_bytes is ",
                      env_->max_buffered_bytes, ")")),
                  ENOBUFS);
  }
  HeldClient held;
  if (!Hold(fd, held)) return errno == 0 ? EIO : errno;
  absl::StatusOr<std::unique_ptr<Relay>> relay =
      Relay::Start(env_, std::move(it->second), std::move(held),
                   std::move(target), next_seed_++, *std::move(slot));
  pending_.erase(it);
  if (!relay.ok())
    return Refuse(name == nullptr ? "" : name, relay.status(), EAGAIN);
  ++env_->counters->connections_opened;
  relays_[fd] = *std::move(relay);
  return 0;
}

int HandleContext::Refuse(absl::string_view broker, const absl::Status& why,
                          int err) {
  ++env_->counters->connect_failures;
  const std::string error =
      absl::StrCat("broker ", broker, ": ", why.message());
  env_->counters->SetLastError(error);
  if (env_->log_sink != nullptr) {
    env_->log_sink->Write(LogLevel::kWarn, "kafka_connect_failed",
                          {{"broker", std::string(broker)}, {"error", error}});
  }
  return err;
}

int HandleContext::Close(int fd) {
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(fd);
    if (auto it = relays_.find(fd); it != relays_.end()) {
      it->second->Stop();
      stopping_.push_back(std::move(it->second));
      relays_.erase(it);
    }
    Reap();
  }
  return ::close(fd);
}

bool HandleContext::Hold(int fd, HeldClient& held) {
  socklen_t len = sizeof(held.original_sndbuf);
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &held.original_sndbuf, &len) !=
      0) {
    return false;
  }
  const int smallest = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &smallest, sizeof(smallest)) !=
      0) {
    return false;
  }
  static const char kZeros[4096] = {};
  while (held.filler < kMaxFiller) {
    const ssize_t n =
        ::send(fd, kZeros, sizeof(kZeros), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    held.filler += static_cast<size_t>(n);
  }
  held.fd.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  return held.fd.get() >= 0 && held.filler > 0;
}

void HandleContext::Reap() {
  std::vector<std::unique_ptr<Relay>> keep;
  for (auto& relay : stopping_) {
    if (!relay->done()) keep.push_back(std::move(relay));
  }
  stopping_ = std::move(keep);
}

void SetThreadHandle(HandleContext* context) { current_handle = context; }

int SocketHook(int /*domain*/, int /*type*/, int /*protocol*/,
               void* /*opaque*/) {
  if (current_handle == nullptr) {
    // Not a broker thread of a handle we set up: never a socket that
    // could carry plaintext to a broker.
    errno = EPERM;
    return -1;
  }
  return current_handle->OpenSocket();
}

int ConnectHook(int fd, const sockaddr* addr, int addr_len, const char* name,
                void* /*opaque*/) {
  if (current_handle == nullptr) return EPERM;
  return current_handle->Connect(fd, addr, addr_len, name);
}

int CloseSocketHook(int fd, void* /*opaque*/) {
  if (current_handle == nullptr) return ::close(fd);
  return current_handle->Close(fd);
}

}  // namespace mayfly::kafka
