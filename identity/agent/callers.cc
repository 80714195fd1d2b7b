// Accepted connections and per-caller limits: see callers.h.
#include "identity/agent/callers.h"

#include <sys/stat.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// The inode of the socket open as `fd`, or 0 if `fd` is closed or not a
// socket.
ino_t SocketInode(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return st.st_ino;
}

}  // namespace

absl::Status CallerTable::Add(int fd) {
  ASSIGN_OR_RETURN(PeerCredentials peer, GetPeerCredentials(fd));
  ASSIGN_OR_RETURN(std::unique_ptr<ProcessRef> process,
                   ProcessRef::OpenPeer(fd, peer.pid));
  const ino_t inode = SocketInode(fd);
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(by_fd_.size()) >= limits_.max_connections) ReapLocked();
  if (static_cast<int>(by_fd_.size()) >= limits_.max_connections) {
    return absl::ResourceExhaustedError(
        absl::StrCat("connection cap reached (", limits_.max_connections, ")"));
  }
  // A number gRPC closed and the kernel handed back to us.
  if (by_fd_.contains(fd)) DropLocked(fd);
  by_fd_[fd] = Connection{inode, Caller{peer, std::move(process)}};
  // A new process starts with a full bucket.
  ++by_pid_[peer.pid].connections;
  return absl::OkStatus();
}

absl::StatusOr<Caller> CallerTable::Lookup(const std::string& grpc_peer) {
  absl::string_view rest = grpc_peer;
  int fd = -1;
  if (!absl::ConsumePrefix(&rest, "fd:") || !absl::SimpleAtoi(rest, &fd)) {
    return absl::UnavailableError(
        absl::StrCat("unknown connection \"", grpc_peer, "\""));
  }
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end() || SocketInode(fd) != it->second.inode) {
    return absl::UnavailableError("connection closed");
  }
  PerProcess& pp = by_pid_[it->second.caller.peer.pid];
  if (!pp.requests.Take(clock_.Monotonic(), limits_.requests_per_second,
                        limits_.request_burst)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request rate limit (", limits_.requests_per_second,
                     "/s) exceeded by pid ", it->second.caller.peer.pid));
  }
  return it->second.caller;
}

absl::Status CallerTable::OpenStream(pid_t pid) {
  absl::MutexLock lock(&mu_);
  PerProcess& pp = by_pid_[pid];
  if (pp.streams >= limits_.max_streams_per_caller) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "pid ", pid, " already has ", pp.streams, " streams open (cap ",
        limits_.max_streams_per_caller, ")"));
  }
  ++pp.streams;
  return absl::OkStatus();
}

void CallerTable::CloseStream(pid_t pid) {
  absl::MutexLock lock(&mu_);
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  if (--it->second.streams <= 0 && it->second.connections <= 0) {
    by_pid_.erase(it);
  }
}

int CallerTable::Reap() {
  absl::MutexLock lock(&mu_);
  ReapLocked();
  return static_cast<int>(by_fd_.size());
}

void CallerTable::ReapLocked() {
  std::vector<int> gone;
  for (const auto& [fd, conn] : by_fd_) {
    if (SocketInode(fd) != conn.inode) gone.push_back(fd);
  }
  for (int fd : gone) DropLocked(fd);
}

void CallerTable::DropLocked(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  const pid_t pid = it->second.caller.peer.pid;
  by_fd_.erase(it);
  auto pp = by_pid_.find(pid);
  if (pp != by_pid_.end() && --pp->second.connections <= 0 &&
      pp->second.streams <= 0) {
    by_pid_.erase(pp);
  }
}

}  // namespace mayfly::agent
