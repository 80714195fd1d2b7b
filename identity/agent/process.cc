// SO_PEERCRED, /proc/PID/stat and pidfd: see process.h.
#include "identity/agent/process.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// /proc/PID/stat fields after the ")" that closes the command name: field 3
// (state) is the first, field 22 (starttime) the twentieth. See proc(5).
constexpr size_t kStateIndex = 0;
constexpr size_t kStartTimeIndex = 19;

struct ProcStat {
  char state = '?';
  uint64_t start_time = 0;
};

absl::StatusOr<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  auto text = identity::ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone (",
                                            text.status().message(), ")"));
  }
  // The command name may hold spaces and parentheses; it ends at the last ')'.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) {
    return absl::InternalError(absl::StrCat(path, ": no ')' after comm"));
  }
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(*text).substr(close + 1), ' ', absl::SkipEmpty());
  ProcStat stat;
  if (fields.size() <= kStartTimeIndex || fields[kStateIndex].size() != 1 ||
      !absl::SimpleAtoi(fields[kStartTimeIndex], &stat.start_time)) {
    return absl::InternalError(absl::StrCat(path, ": unexpected format"));
  }
  stat.state = fields[kStateIndex][0];
  return stat;
}

// Not in glibc 2.36's headers; the asm-generic value, which x86-64 and
// arm64 use.
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

bool PidfdAlive(int pidfd) {
#ifdef SYS_pidfd_send_signal
  // Signal 0 checks without sending; ESRCH once the process has exited, even
  // if its pid now belongs to another process. EPERM (an agent not running
  // as root asking about another user's process) means it exists.
  return syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0 ||
         errno == EPERM;
#else
  return true;
#endif
}

// Whether a pidfd is readable, i.e. its process has exited (pidfd_poll).
bool PidfdExited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

// Events taken from epoll per wake-up; more simply wait for the next turn.
constexpr int kMaxEvents = 64;

}  // namespace

absl::StatusOr<PeerCredentials> GetPeerCredentials(int socket_fd) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(
        absl::StrCat("SO_PEERCRED: ", std::strerror(errno)));
  }
  if (cred.pid <= 0) {
    // A peer in another pid namespace shows as pid 0: nothing to attest.
    return absl::PermissionDeniedError("peer has no pid in this pid namespace");
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid) {
  ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return stat.start_time;
}

absl::StatusOr<std::unique_ptr<ProcessRef>> ProcessRef::Open(pid_t pid) {
  const int pidfd = PidfdOpen(pid);
  if (pidfd < 0 && errno != ENOSYS) {
    return absl::NotFoundError(
        absl::StrCat("pidfd_open(", pid, "): ", std::strerror(errno)));
  }
  auto stat = ReadProcStat(pid);
  if (!stat.ok()) {
    if (pidfd >= 0) close(pidfd);
    return stat.status();
  }
  // Private constructor: make_unique cannot reach it.
  return std::unique_ptr<ProcessRef>(new ProcessRef(
      pid, pidfd, stat->start_time, /*pinned_at_connect=*/false));
}

absl::StatusOr<std::unique_ptr<ProcessRef>> ProcessRef::OpenWithoutPidfdForTest(
    pid_t pid) {
  ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return std::unique_ptr<ProcessRef>(new ProcessRef(
      pid, /*pidfd=*/-1, stat.start_time, /*pinned_at_connect=*/false));
}

absl::StatusOr<std::unique_ptr<ProcessRef>> ProcessRef::OpenPeer(int socket_fd,
                                                                 pid_t pid) {
  int pidfd = -1;
  socklen_t len = sizeof(pidfd);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
    if (errno == ENOPROTOOPT) return Open(pid);  // before Linux 6.5
    return absl::NotFoundError(
        absl::StrCat("SO_PEERPIDFD for pid ", pid, ": ", std::strerror(errno)));
  }
  auto stat = ReadProcStat(pid);
  // The pidfd is the connecting process's own: if it is still alive after
  // /proc/PID/stat was read, the pid was not reused and the start time is
  // that process's.
  if (!stat.ok() || !PidfdAlive(pidfd)) {
    close(pidfd);
    return stat.ok() ? absl::NotFoundError(
                           absl::StrCat("process ", pid, " has exited"))
                     : stat.status();
  }
  return std::unique_ptr<ProcessRef>(
      new ProcessRef(pid, pidfd, stat->start_time, /*pinned_at_connect=*/true));
}

ProcessRef::~ProcessRef() {
  if (pidfd_ >= 0) close(pidfd_);
}

absl::Status ProcessRef::CheckAlive() const {
  if (pidfd_ >= 0 && !PidfdAlive(pidfd_)) {
    return absl::NotFoundError(absl::StrCat("process ", pid_, " has exited"));
  }
  ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid_));
  if (stat.start_time != start_time_) {
    return absl::NotFoundError(
        absl::StrCat("pid ", pid_, " now names another process"));
  }
  if (stat.state == 'Z' || stat.state == 'X') {
    return absl::NotFoundError(absl::StrCat("process ", pid_, " has exited"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ExitWatcher>> ExitWatcher::Start() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::InternalError(
        absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up
  if (wake_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    const int err = errno;
    close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
    return absl::InternalError(
        absl::StrCat("exit watcher eventfd: ", std::strerror(err)));
  }
  // Private constructor: make_unique cannot reach it.
  std::unique_ptr<ExitWatcher> watcher(new ExitWatcher(epoll_fd, wake_fd));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  return watcher;
}

ExitWatcher::~ExitWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  close(epoll_fd_);
  close(wake_fd_);
}

void ExitWatcher::Wake() {
  const uint64_t one = 1;
  // EAGAIN only when the counter is full: the loop is awake anyway.
  (void)!write(wake_fd_, &one, sizeof(one));
}

ExitWatcher::WatchId ExitWatcher::Watch(
    std::shared_ptr<const ProcessRef> process, std::function<void()> on_exit) {
  absl::MutexLock lock(&mu_);
  const WatchId id = next_id_++;
  const ProcessRef* key = process.get();
  by_id_[id] = key;
  auto [it, inserted] = by_process_.try_emplace(key);
  it->second.callbacks[id] = std::move(on_exit);
  if (!inserted) return id;
  it->second.process = std::move(process);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = const_cast<ProcessRef*>(key);
  it->second.polled = key->pidfd() >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD,
                                                     key->pidfd(), &ev) == 0;
  // A process left to the fallback check changes how long the loop sleeps.
  if (!it->second.polled) Wake();
  return id;
}

void ExitWatcher::Cancel(WatchId id) {
  absl::MutexLock lock(&mu_);
  auto by_id = by_id_.find(id);
  if (by_id == by_id_.end()) return;
  auto it = by_process_.find(by_id->second);
  by_id_.erase(by_id);
  if (it == by_process_.end()) return;
  it->second.callbacks.erase(id);
  if (!it->second.callbacks.empty()) return;
  if (it->second.polled) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first->pidfd(), nullptr);
  }
  by_process_.erase(it);
}

int ExitWatcher::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_id_.size());
}

std::vector<std::function<void()>> ExitWatcher::TakeLocked(
    const ProcessRef* process) {
  std::vector<std::function<void()>> out;
  auto it = by_process_.find(process);
  if (it == by_process_.end()) return out;
  for (auto& [id, callback] : it->second.callbacks) {
    by_id_.erase(id);
    out.push_back(std::move(callback));
  }
  if (it->second.polled) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, process->pidfd(), nullptr);
  }
  by_process_.erase(it);
  return out;
}

void ExitWatcher::Loop() {
  epoll_event events[kMaxEvents];
  int timeout_ms = -1;
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) return;  // EBADF/EINVAL: nothing to wait on
    std::vector<std::function<void()>> fire;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      std::vector<const ProcessRef*> exited;
      for (int i = 0; i < n; ++i) {
        const auto* key = static_cast<const ProcessRef*>(events[i].data.ptr);
        if (key == nullptr) {
          uint64_t count;
          (void)!read(wake_fd_, &count, sizeof(count));
          continue;
        }
        // The event may predate a Cancel that freed this handle and a Watch
        // that reused its address: trust only the pidfd itself.
        auto it = by_process_.find(key);
        if (it != by_process_.end() && it->second.polled &&
            PidfdExited(key->pidfd())) {
          exited.push_back(key);
        }
      }
      bool fallback = false;
      for (const auto& [key, watched] : by_process_) {
        if (watched.polled) continue;
        if (key->CheckAlive().ok()) {
          fallback = true;
        } else {
          exited.push_back(key);
        }
      }
      for (const ProcessRef* key : exited) {
        for (auto& callback : TakeLocked(key)) {
          fire.push_back(std::move(callback));
        }
      }
      timeout_ms = fallback ? static_cast<int>(absl::ToInt64Milliseconds(
                                  kFallbackCheckInterval))
                            : -1;
    }
    // Unlocked: a callback may end a stream, whose OnDone cancels watches.
    for (auto& callback : fire) callback();
  }
}

}  // namespace mayfly::agent
