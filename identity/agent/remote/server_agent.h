// Server mode: the agent's side of mayfly-server.
//
// Owns the connection to the server replicas, the agent's identity (key and
// agent SVID, from Attest, renewed with RenewAgent at half-life), the SVID
// source the Registry draws from, and the on-disk cache. A sync thread holds
// a Sync stream open; each SyncResponse replaces the entries and the bundle:
// SVIDs for new entries are fetched first (one SignX509 batch), then the
// bundle and the entries are published, so a workload's first fetch after
// its entry arrived is answered from memory. The agent's loop calls Tick
// for renewals.
//
// Trust in the server: the configured bundle or pin, joined by the roots
// of every bundle accepted on Sync (tls.h); they are kept on disk with the
// SyncResponse, so a restarted agent trusts a server whose root rotated
// while it ran.
//
// Outage: at start the cached entries, bundle and SVIDs are served at once;
// while no server answers, what is valid is served, and health says
// "serving from cache, server unreachable since T". Eviction: a refused
// renewal or signature (PermissionDenied) ends every workload's SVIDs at
// once and forgets them on disk.
//
// Thread-safe. Create, then Start once the Registry exists.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_SERVER_AGENT_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_SERVER_AGENT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/config.h"
#include "identity/agent/registry.h"
#include "identity/agent/remote/node_connection.h"
#include "identity/agent/remote/remote_svid_source.h"
#include "identity/agent/remote/state_cache.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"

namespace mayfly::agent::remote {

// Reconnect backoff: doubles from the first to the last.
inline constexpr absl::Duration kMinBackoff = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

// Turns a server entry into the registry's form; InvalidArgument naming the
// field if it breaks a rule the agent config would refuse.
absl::StatusOr<RegistrationEntry> FromServerEntry(
    const server::v1::Entry& entry, const identity::TrustDomain& trust_domain);

// Which root signed the top of `chain` (DER certificates, leaf first, the
// chain below the root): its key ID, or its name; empty if unreadable.
std::string SigningRootId(
    const google::protobuf::RepeatedPtrField<std::string>& chain);

class ServerAgent {
 public:
  using Publish = std::function<void(std::shared_ptr<const SigningState>)>;

  static absl::StatusOr<std::unique_ptr<ServerAgent>> Create(
      const AgentConfig& config, const identity::Clock& clock);
  ~ServerAgent();

  // What the Registry draws SVIDs from.
  SvidSource& source() { return *source_; }

  // Serves the cache (if any), then starts the sync thread. `publish` gets
  // every new bundle (before the entries it came with).
  void Start(Registry& registry, Publish publish) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the sync thread.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Renews the agent SVID and the workload SVIDs that are due. Returns when
  // it has work next.
  absl::Time Tick() ABSL_LOCKS_EXCLUDED(mu_);

  // A JWT-SVID for `entry`, signed by the server with the entry's JWT TTL
  // (a call with a deadline of kJwtCallDeadline).
  absl::StatusOr<std::string> SignJwt(const RegistrationEntry& entry,
                                      const std::vector<std::string>& audience);

  // "ok", "serving from cache, server unreachable since T", or "evicted:
  // WHY".
  std::string Health() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string RenderMetrics() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ServerAgent(const AgentConfig& config, const identity::Clock& clock)
      : config_(config), clock_(clock) {}

  void SyncLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void OnSync(const server::v1::SyncResponse& response)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes the cached SyncResponse and SVIDs at start.
  void ServeCache() ABSL_LOCKS_EXCLUDED(mu_);
  // Applies entries and bundle; `fetch` asks the server for missing SVIDs.
  void Apply(const server::v1::SyncResponse& response, bool fetch)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A SigningState for `bundle` (its roots concatenated in `roots_der`);
  // InvalidArgument for another trust domain, no root, or a bad JWK set.
  absl::StatusOr<std::shared_ptr<SigningState>> BundleState(
      const server::v1::Bundle& bundle, const std::string& roots_der) const;
  // Takes the roots of `bundle` (from Sync or its cache) as trusted for the
  // server's own chain; a bundle BundleState would refuse is ignored.
  void LearnServerRoots(const identity::X509Bundle& roots,
                        absl::string_view from) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status EnsureIdentity() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RenewIdentity() ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps a new agent SVID (and its key) in memory, on disk and in the
  // connection.
  absl::Status AdoptIdentity(const server::v1::AgentSvid& svid,
                             const EVP_PKEY& key) ABSL_LOCKS_EXCLUDED(mu_);
  // After a SignX509: if the server signed under another root than the
  // agent SVID's (a root rotation), the agent SVID renews at the next Tick.
  void NoteSigningRoot(const server::v1::SignX509Response& response)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records the outcome of a server call: reachable, unreachable, evicted.
  void Observe(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> JoinToken() const;

  const AgentConfig config_;
  const identity::Clock& clock_;
  std::unique_ptr<StateCache> cache_;
  std::shared_ptr<ServerTrustSource> trust_;
  std::unique_ptr<NodeConnection> connection_;
  std::unique_ptr<RemoteSvidSource> source_;
  Registry* registry_ = nullptr;
  Publish publish_;
  std::thread sync_thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool has_identity_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time identity_renew_at_ ABSL_GUARDED_BY(mu_);
  absl::Time identity_not_after_ ABSL_GUARDED_BY(mu_);
  // When Attest or RenewAgent last gave this agent an SVID (not a cached
  // one): a node that stops renewing shows here first.
  absl::Time identity_renewed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // SigningRootId of the agent SVID's chain.
  std::string identity_root_id_ ABSL_GUARDED_BY(mu_);
  std::string agent_id_ ABSL_GUARDED_BY(mu_);
  std::string evicted_ ABSL_GUARDED_BY(mu_);
  absl::Time unreachable_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::string last_bundle_ ABSL_GUARDED_BY(mu_);
  uint64_t bundle_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_SERVER_AGENT_H_
