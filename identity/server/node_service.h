// The Node API (server.proto): what attested agents call.
//
// Attest turns a join token or an x509pop proof into an agent SVID. Every
// other call needs the agent's SVID over mTLS, and the agent's record in
// the store not evicted (read linearizably on each call, so an eviction is
// effective on the next request any replica serves). SignX509 and SignJwt
// sign only for entries parented to the calling agent or one of its
// aliases, with exactly what the entry says; each refusal is logged with
// the agent and entry IDs. Sync pushes the agent's full state whenever the
// StoreCache reports a change that touches it.
//
// Thread-safe; gRPC's sync server runs each call on its own thread.
#ifndef MAYFLY_IDENTITY_SERVER_NODE_SERVICE_H_
#define MAYFLY_IDENTITY_SERVER_NODE_SERVICE_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/csr.h"
#include "identity/server/proto/server.grpc.pb.h"
#include "identity/server/replica_signer.h"
#include "identity/server/server_store.h"
#include "identity/server/store_cache.h"
#include "identity/server/sync_delivery.h"
#include "identity/spiffe_id.h"

namespace mayfly::server {

// SPIRE's default agent SVID lifetime.
inline constexpr absl::Duration kDefaultAgentTtl = absl::Hours(1);
// The "minutes, not months" default for entries without a TTL.
inline constexpr absl::Duration kDefaultEntryTtl = absl::Minutes(5);
// CSRs one SignX509 call may carry: a node's worth of workloads, bounded.
inline constexpr int kMaxCsrsPerBatch = 256;
// JWT audiences per request and bytes per audience.
inline constexpr int kMaxJwtAudiences = 16;
inline constexpr size_t kMaxJwtAudienceBytes = 256;
// Sync streams one agent may hold open: each holds a server thread, and an
// agent needs one (a second while it reconnects).
inline constexpr int kMaxSyncStreamsPerAgent = 4;
// Certificates an x509pop chain may carry.
inline constexpr int kMaxX509PopChain = 8;
// What an x509pop signature covers: this prefix, then the nonce.
inline constexpr absl::string_view kX509PopContext =
    absl::string_view("mayfly x509pop v1\0", 18);
inline constexpr size_t kX509PopNonceBytes = 32;

// Maps an x509pop node certificate to a node alias: a CN equal to `cn`, or
// starting with its text before a trailing '*'.
struct X509PopAlias {
  std::string cn;
  std::string alias;
};

struct NodeOptions {
  identity::TrustDomain trust_domain;
  absl::Duration default_ttl = kDefaultEntryTtl;
  absl::Duration agent_ttl = kDefaultAgentTtl;
  // Empty: x509pop is off.
  identity::CertChain x509pop_roots;
  std::vector<X509PopAlias> x509pop_aliases;
};

class NodeService final : public v1::Node::Service {
 public:
  // None owned; all must outlive the service.
  NodeService(NodeOptions options, ServerStore& store, StoreCache& cache,
              const ReplicaSigner& signer, const identity::Clock& clock);

  grpc::Status Attest(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::AttestResponse, v1::AttestRequest>* stream)
      override;
  grpc::Status RenewAgent(grpc::ServerContext* context,
                          const v1::RenewAgentRequest* request,
                          v1::AgentSvid* response) override;
  grpc::Status Sync(grpc::ServerContext* context,
                    const v1::SyncRequest* request,
                    grpc::ServerWriter<v1::SyncResponse>* writer) override;
  grpc::Status SignX509(grpc::ServerContext* context,
                        const v1::SignX509Request* request,
                        v1::SignX509Response* response) override;
  grpc::Status SignJwt(grpc::ServerContext* context,
                       const v1::SignJwtRequest* request,
                       v1::SignJwtResponse* response) override;

  // What /metrics reports of this replica's Node API since it started.
  struct Counters {
    int64_t svids_signed = 0;   // X.509-SVIDs signed for workloads
    int64_t sign_refusals = 0;  // SignX509 CSRs and SignJwt calls refused
    int sync_streams = 0;       // open now
  };
  Counters GetCounters() const ABSL_LOCKS_EXCLUDED(streams_mu_);

  // Ends every Sync stream (shutdown).
  void EndStreams() { stopping_ = true; }
  // What each open Sync stream has been sent.
  SyncDelivery& delivery() { return delivery_; }

 private:
  // The calling agent's record: PermissionDenied unless it is an attested
  // agent that is not evicted.
  absl::StatusOr<v1::Agent> CallingAgent(const grpc::ServerContext& context);
  // An agent SVID for `agent_id` certifying the key of `csr_der`.
  absl::StatusOr<v1::AgentSvid> SignAgentSvid(const std::string& agent_id,
                                              const std::string& csr_der);
  absl::StatusOr<identity::X509Bundle> TrustBundle() const;
  // One CSR of a SignX509 batch.
  absl::StatusOr<SignedLeaf> SignOne(const v1::Agent& agent,
                                     const v1::CsrForEntry& item);
  absl::StatusOr<v1::Agent> AttestJoinToken(const std::string& token,
                                            const std::string& csr_der,
                                            std::string& agent_id);
  absl::StatusOr<v1::Agent> AttestX509Pop(
      const v1::X509PopAttestation& pop,
      grpc::ServerReaderWriter<v1::AttestResponse, v1::AttestRequest>& stream,
      std::string& agent_id);

  const NodeOptions options_;
  ServerStore& store_;
  StoreCache& cache_;
  const ReplicaSigner& signer_;
  const identity::Clock& clock_;
  std::atomic<bool> stopping_{false};
  SyncDelivery delivery_;

  std::atomic<int64_t> svids_signed_{0};
  std::atomic<int64_t> sign_refusals_{0};

  mutable absl::Mutex streams_mu_;
  // Open Sync streams per agent ID.
  std::map<std::string, int> sync_streams_ ABSL_GUARDED_BY(streams_mu_);
  int open_sync_streams_ ABSL_GUARDED_BY(streams_mu_) = 0;
};

// Entries an agent may sign for: its own ID and its aliases.
bool AgentMayServe(const v1::Agent& agent, const v1::Entry& entry);

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_NODE_SERVICE_H_
