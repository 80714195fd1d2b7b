// SO_PEERCRED, /proc/PID/stat and pidfd: see process.h.
#include "identity/agent/process.h"

#include <errno.h>
#include <signal.h>
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

}  // namespace mayfly::agent
