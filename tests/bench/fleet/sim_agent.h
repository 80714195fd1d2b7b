// SimAgent: one simulated mayfly-agent in server mode, as the fleet bench
// runs a thousand of them in one process. Each has its own key, its own
// agent SVID and its own gRPC channels (TLS for Attest, mTLS with its SVID
// for the rest, each on a connection of its own), and speaks the Node API
// as identity/agent/remote does: Attest with a join token, one Sync stream,
// SignX509 in batches of at most kMaxCsrsPerBatch with a fresh P-256 key per
// SVID, RenewAgent at half-life (then new mTLS channels, as
// NodeConnection::SetAgentSvid does). No workload API: it signs every entry
// it is sent, once on arrival and again at half-life plus a little jitter.
//
// Thread-safe: RunSync runs on the agent's own thread, Work on any one
// worker thread at a time (the scheduler guarantees it).
#ifndef MAYFLY_TESTS_BENCH_FLEET_SIM_AGENT_H_
#define MAYFLY_TESTS_BENCH_FLEET_SIM_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/agent/remote/tls.h"
#include "identity/clock.h"
#include "identity/server/proto/server.grpc.pb.h"

namespace mayfly::bench {

namespace pb = ::mayfly::server::v1;

// Counters every agent adds to; read by the bench between phases.
struct FleetCounters {
  std::atomic<int64_t> attested{0};
  std::atomic<int64_t> svids_first{0};    // an entry's first SVID
  std::atomic<int64_t> svids_renewed{0};  // a later one
  std::atomic<int64_t> sign_calls{0};
  std::atomic<int64_t> agent_renewals{0};
  std::atomic<int64_t> sync_messages{0};
  std::atomic<int64_t> sync_bytes{0};  // serialized SyncResponse sizes
  std::atomic<int64_t> failures{0};
  // Wire bytes of probe agents (those behind a CountingProxy).
  std::atomic<int64_t> probe_sign_bytes{0};
  std::atomic<int64_t> probe_sign_svids{0};
  // Their first SVIDs (the cold start), always counted: the same request
  // and answer as a renewal's.
  std::atomic<int64_t> probe_first_bytes{0};
  std::atomic<int64_t> probe_first_svids{0};
  std::atomic<int64_t> probe_agent_renew_bytes{0};
  std::atomic<int64_t> probe_agent_renewals{0};
  // Only during the renewal windows.
  std::atomic<bool> count_probe_bytes{false};
};

struct SimAgentOptions {
  std::string address;  // host:port of its replica, or of a CountingProxy
  std::string token;
  std::shared_ptr<const agent::remote::ServerTrustSource> trust;
  // Renew at this fraction of the lifetime, plus up to `renew_jitter`.
  double renew_fraction = 0.5;
  double renew_jitter = 0.1;
  // Reads the proxy's byte count; null for agents not behind one.
  std::function<uint64_t()> wire_bytes;
  // Called (from the Sync thread) with each entry's SPIFFE ID the first
  // time it arrives, and when it arrived.
  std::function<void(const std::string&, absl::Time)> on_new_entry;
  // Called once all `expected_entries` entries have an SVID.
  int expected_entries = 0;
  std::function<void(absl::Time)> on_all_signed;
  // Called when RunSync got a message and there is signing to do.
  std::function<void()> wake;
};

class SimAgent {
 public:
  SimAgent(SimAgentOptions options, FleetCounters& counters,
           const identity::Clock& clock);

  // A key, a CSR, and the join token: the agent SVID, then mTLS channels.
  absl::Status Attest() ABSL_LOCKS_EXCLUDED(mu_);
  // Holds the Sync stream open until Stop (or the server ends it),
  // recording each state. Returns the stream's end status.
  absl::Status RunSync() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Signs every entry without an SVID or due for renewal, and renews the
  // agent SVID if due.
  absl::Status Work() ABSL_LOCKS_EXCLUDED(mu_);
  // When Work next has something to do (InfiniteFuture: nothing known).
  absl::Time NextDue() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct EntryState {
    std::string spiffe_id;
    bool ever_signed = false;
    absl::Time renew_at = absl::InfinitePast();
  };
  absl::Status SignDue() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RenewAgent() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status AdoptSvid(const pb::AgentSvid& svid, const std::string& key_pem)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<pb::Node::Stub> Stub() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time RenewAt(absl::Time not_after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SimAgentOptions options_;
  FleetCounters& counters_;
  const identity::Clock& clock_;

  mutable absl::Mutex mu_;
  std::string agent_id_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<pb::Node::Stub> stub_ ABSL_GUARDED_BY(mu_);
  absl::Time agent_renew_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::map<std::string, EntryState> entries_ ABSL_GUARDED_BY(mu_);  // by id
  int signed_entries_ ABSL_GUARDED_BY(mu_) = 0;
  bool all_signed_reported_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* sync_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t jitter_state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_SIM_AGENT_H_
