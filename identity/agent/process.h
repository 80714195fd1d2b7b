// The kernel's view of a Workload API caller.
//
// A caller is known only by what the kernel says about the socket it
// connected with: SO_PEERCRED gives the pid, uid and gid at connect time. The
// process is pinned with a pidfd, which names that one process and can never
// refer to a later process that reuses the number: SO_PEERPIDFD hands over
// the pidfd of the very process that connected (Linux 6.5+); on older
// kernels pidfd_open(pid) at accept leaves a window of microseconds in which
// a caller that exited could have had its pid reused. Everything else (the
// executable, its hash, the groups) is read from /proc at call time and
// trusted only if the pidfd still shows the process alive afterwards.
//
// Thread-safe: ProcessRef is immutable after Open.
#ifndef MAYFLY_IDENTITY_AGENT_PROCESS_H_
#define MAYFLY_IDENTITY_AGENT_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mayfly::agent {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// SO_PEERCRED of a connected Unix socket.
absl::StatusOr<PeerCredentials> GetPeerCredentials(int socket_fd);

// The process's start time in clock ticks since boot, field 22 of
// /proc/PID/stat: with the pid, a name for one process that survives PID
// reuse (SPIRE's guard).
absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

// A handle on one process: its pidfd (when the kernel has pidfd_open, 5.3+)
// and its start time when the handle was opened.
class ProcessRef {
 public:
  static absl::StatusOr<std::unique_ptr<ProcessRef>> Open(pid_t pid);
  // The process that connected `socket_fd`, whose SO_PEERCRED pid is `pid`.
  static absl::StatusOr<std::unique_ptr<ProcessRef>> OpenPeer(int socket_fd,
                                                              pid_t pid);
  ~ProcessRef();
  ProcessRef(const ProcessRef&) = delete;
  ProcessRef& operator=(const ProcessRef&) = delete;

  pid_t pid() const { return pid_; }
  // Whether the pidfd came from SO_PEERPIDFD, not from the pid.
  bool pinned_at_connect() const { return pinned_at_connect_; }

  // OK while the process this handle was opened on is alive: not exited,
  // not a zombie, and /proc/PID still shows the same start time. Call it
  // after reading /proc to know that what was read belongs to this process.
  absl::Status CheckAlive() const;

 private:
  ProcessRef(pid_t pid, int pidfd, uint64_t start_time, bool pinned_at_connect)
      : pid_(pid),
        pidfd_(pidfd),
        start_time_(start_time),
        pinned_at_connect_(pinned_at_connect) {}

  const pid_t pid_;
  const int pidfd_;  // -1 when the kernel has no pidfd_open
  const uint64_t start_time_;
  const bool pinned_at_connect_;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_PROCESS_H_
