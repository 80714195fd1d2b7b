// Accepted connections and per-caller limits: see callers.h.
#include "identity/agent/callers.h"

#include <sys/socket.h>
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
  // A number gRPC closed and the kernel handed back to us.
  if (by_fd_.contains(fd)) DropLocked(fd);
  auto uid_full = [&] {
    auto it = connections_by_uid_.find(peer.uid);
    return it != connections_by_uid_.end() &&
           it->second >= limits_.max_connections_per_uid;
  };
  auto full = [&] {
    return static_cast<int>(by_fd_.size()) >= limits_.max_connections;
  };
  if (full() || uid_full()) ReapLocked();
  if (full()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("connection cap reached (", limits_.max_connections, ")"));
  }
  if (uid_full()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "uid ", peer.uid, " already has ", limits_.max_connections_per_uid,
        " connections open (limits.max_connections_per_uid)"));
  }
  by_fd_[fd] = Connection{inode, Caller{peer, std::move(process), fd, inode}, 0,
                          clock_.Monotonic()};
  ++connections_by_uid_[peer.uid];
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
  const absl::Duration now = clock_.Monotonic();
  it->second.last_active = now;
  PerProcess& pp = by_pid_[it->second.caller.peer.pid];
  if (!pp.requests.Take(now, limits_.requests_per_second,
                        limits_.request_burst)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request rate limit (", limits_.requests_per_second,
                     "/s) exceeded by pid ", it->second.caller.peer.pid));
  }
  return it->second.caller;
}

CallerTable::Connection* CallerTable::ConnectionLocked(const Caller& caller) {
  auto it = by_fd_.find(caller.fd);
  if (it == by_fd_.end() || it->second.inode != caller.inode) return nullptr;
  return &it->second;
}

absl::Status CallerTable::OpenStream(const Caller& caller) {
  const pid_t pid = caller.peer.pid;
  absl::MutexLock lock(&mu_);
  PerProcess& pp = by_pid_[pid];
  if (pp.streams >= limits_.max_streams_per_caller) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "pid ", pid, " already has ", pp.streams, " streams open (cap ",
        limits_.max_streams_per_caller, ")"));
  }
  ++pp.streams;
  if (Connection* conn = ConnectionLocked(caller)) ++conn->streams;
  return absl::OkStatus();
}

void CallerTable::CloseStream(const Caller& caller) {
  const pid_t pid = caller.peer.pid;
  absl::MutexLock lock(&mu_);
  if (Connection* conn = ConnectionLocked(caller)) {
    --conn->streams;
    // The idle clock runs from the end of the last call.
    conn->last_active = clock_.Monotonic();
  }
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

int CallerTable::CloseIdle() {
  absl::MutexLock lock(&mu_);
  ReapLocked();
  const absl::Duration now = clock_.Monotonic();
  std::vector<int> idle;
  for (const auto& [fd, conn] : by_fd_) {
    if (conn.streams <= 0 && now - conn.last_active >= limits_.idle_timeout) {
      idle.push_back(fd);
    }
  }
  for (int fd : idle) {
    // gRPC owns the fd and may close it at any time, and the accept loop
    // may reuse the number: check the inode right before shutting down.
    // What is left is a window of a few instructions in which a brand-new
    // connection could be shut down instead; its client reconnects.
    if (SocketInode(fd) == by_fd_[fd].inode) shutdown(fd, SHUT_RDWR);
    DropLocked(fd);
  }
  return static_cast<int>(idle.size());
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
  const uid_t uid = it->second.caller.peer.uid;
  by_fd_.erase(it);
  auto u = connections_by_uid_.find(uid);
  if (u != connections_by_uid_.end() && --u->second <= 0) {
    connections_by_uid_.erase(u);
  }
  auto pp = by_pid_.find(pid);
  if (pp != by_pid_.end() && --pp->second.connections <= 0 &&
      pp->second.streams <= 0) {
    by_pid_.erase(pp);
  }
}

}  // namespace mayfly::agent
