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
// ExitWatcher tells, within about a second, when a pinned process exits:
// a stream attested for one process must not outlive it (a child that
// inherited the connection is not the process that was attested).
//
// Thread-safe: ProcessRef is immutable after Open; ExitWatcher locks.
#ifndef MAYFLY_IDENTITY_AGENT_PROCESS_H_
#define MAYFLY_IDENTITY_AGENT_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

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
  // As Open, but without a pidfd, as on a kernel before 5.3: for tests of
  // the start-time fallback.
  static absl::StatusOr<std::unique_ptr<ProcessRef>> OpenWithoutPidfdForTest(
      pid_t pid);
  ~ProcessRef();
  ProcessRef(const ProcessRef&) = delete;
  ProcessRef& operator=(const ProcessRef&) = delete;

  pid_t pid() const { return pid_; }
  // The pidfd, readable (POLLIN) once the process exits; -1 when the kernel
  // has no pidfd_open. Owned by this handle.
  int pidfd() const { return pidfd_; }
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

// One thread that waits for pinned processes to exit: epoll over their
// pidfds, woken by an eventfd to pick up changes and to stop. Processes
// without a pidfd (kernels before 5.3) are checked with CheckAlive (the
// start-time guard) every kFallbackCheckInterval instead.
class ExitWatcher {
 public:
  using WatchId = uint64_t;
  // How often processes without a pidfd are checked.
  static constexpr absl::Duration kFallbackCheckInterval = absl::Seconds(1);

  static absl::StatusOr<std::unique_ptr<ExitWatcher>> Start();
  // Stops the thread; callbacks not yet run never run.
  ~ExitWatcher() ABSL_LOCKS_EXCLUDED(mu_);
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Calls `on_exit` once, on the watcher's thread and with no lock held,
  // when `process` has exited (at once if it has already). Returns an id
  // for Cancel.
  WatchId Watch(std::shared_ptr<const ProcessRef> process,
                std::function<void()> on_exit) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets a watch; a no-op once its callback has run or started.
  void Cancel(WatchId id) ABSL_LOCKS_EXCLUDED(mu_);

  // Watches not yet fired or cancelled (for tests).
  int size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Every watch on one ProcessRef shares one epoll registration.
  struct Watched {
    std::shared_ptr<const ProcessRef> process;
    bool polled = false;  // registered with epoll; else the fallback check
    absl::flat_hash_map<WatchId, std::function<void()>> callbacks;
  };

  ExitWatcher(int epoll_fd, int wake_fd)
      : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}
  void Loop();
  void Wake();
  // Removes the watches of `process` and returns their callbacks.
  std::vector<std::function<void()>> TakeLocked(const ProcessRef* process)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int epoll_fd_;
  const int wake_fd_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  WatchId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<const ProcessRef*, Watched> by_process_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<WatchId, const ProcessRef*> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_PROCESS_H_
