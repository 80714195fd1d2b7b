// The connections the agent accepted, and what the kernel said about each.
//
// The agent accepts Unix connections itself, reads SO_PEERCRED and pins the
// peer's pid with a ProcessRef before gRPC sees the socket. gRPC names such a
// connection "fd:N" in ServerContext::peer(); this table maps N back to the
// credentials. A connection is recognised by its socket inode as well as its
// fd number, so a number reused after gRPC closed the old socket never
// inherits the old caller's credentials.
//
// It also holds the per-caller limits: open connections overall and per
// uid, streams per process, and a token bucket of requests per process. The
// per-uid cap is what keeps one local user from locking every other
// workload out at accept: any process may connect, so the overall cap alone
// is a shared pool one user could drain.
//
// Connections with no RPC in flight for `idle_timeout` are closed
// (CloseIdle), including connections that never sent a byte: gRPC would
// wait for their HTTP/2 preface forever. The agent hands each connection to
// gRPC and cannot close it behind gRPC's back; shutdown(2) on the socket
// (checked to still be the same inode) makes gRPC see end-of-file and drop
// it. The idle clock is the Clock's Monotonic() reading. (gRPC 1.51's
// GRPC_ARG_MAX_CONNECTION_IDLE_MS does apply to channels added from an fd,
// silent ones included, as a test with it set showed; but it runs on
// gRPC's own clock, which tests cannot move.)
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_CALLERS_H_
#define MAYFLY_IDENTITY_AGENT_CALLERS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/agent/process.h"
#include "identity/agent/token_bucket.h"
#include "identity/clock.h"

namespace mayfly::agent {

// Defaults and their reasons: AgentLimits in config.h.
struct CallerLimits {
  int max_connections = 4096;
  int max_connections_per_uid = 512;
  int max_streams_per_caller = 64;
  double requests_per_second = 50;
  int request_burst = 100;
  absl::Duration idle_timeout = absl::Seconds(60);
};

struct Caller {
  PeerCredentials peer;
  std::shared_ptr<const ProcessRef> process;
  // The connection it came on: its fd number and socket inode.
  int fd = -1;
  ino_t inode = 0;
};

class CallerTable {
 public:
  CallerTable(const CallerLimits& limits, const identity::Clock& clock)
      : limits_(limits), clock_(clock) {}

  // Records a freshly accepted connection. ResourceExhausted when the
  // connection cap, or the cap of the peer's uid, is reached (after
  // dropping connections that are gone); the caller closes the socket then.
  absl::Status Add(int fd) ABSL_LOCKS_EXCLUDED(mu_);

  // The caller behind gRPC's peer string "fd:N". Unavailable if the
  // connection is unknown or gone. Takes one token from the caller's bucket:
  // ResourceExhausted when it is empty. Restarts the connection's idle
  // clock: a call is activity.
  absl::StatusOr<Caller> Lookup(const std::string& grpc_peer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Counts a stream against the caller's process cap: ResourceExhausted
  // when full. A connection with a stream open is never idle.
  absl::Status OpenStream(const Caller& caller) ABSL_LOCKS_EXCLUDED(mu_);
  void CloseStream(const Caller& caller) ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets connections whose socket gRPC has closed. Returns how many
  // remain.
  int Reap() ABSL_LOCKS_EXCLUDED(mu_);

  // Reaps, then shuts down and forgets every connection with no stream open
  // and no call started for idle_timeout. Returns how many it closed. A
  // unary call counts as activity when it starts only: each is answered in
  // well under a second, far below any sensible timeout.
  int CloseIdle() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Connection {
    ino_t inode = 0;
    Caller caller;
    int streams = 0;
    // Monotonic reading of the last call started or stream ended.
    absl::Duration last_active;
  };
  struct PerProcess {
    int connections = 0;
    int streams = 0;
    TokenBucket requests;
  };

  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The live connection `caller` came on, or null if it is gone.
  Connection* ConnectionLocked(const Caller& caller)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CallerLimits limits_;
  const identity::Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<int, Connection> by_fd_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<pid_t, PerProcess> by_pid_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uid_t, int> connections_by_uid_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_CALLERS_H_
