// The Registration API (server.proto): entries, join tokens, agents.
//
// Served twice: on the admin Unix socket, where the connection's uid was
// checked before gRPC saw it (AdminSocket, admin_socket.h), and on the Node
// TLS port, where each call must present an X.509-SVID whose ID is one of
// the configured admin_ids. RefusingRegistration answers every call on a
// connection whose uid is not an admin's, so the caller learns why.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_SERVER_REGISTRATION_SERVICE_H_
#define MAYFLY_IDENTITY_SERVER_REGISTRATION_SERVICE_H_

#include <functional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/server/proto/server.grpc.pb.h"
#include "identity/server/server_store.h"

namespace mayfly::server {

// The join tokens are short-lived; SPIRE's default is 10 minutes.
inline constexpr absl::Duration kDefaultJoinTokenTtl = absl::Minutes(10);
inline constexpr absl::Duration kMaxJoinTokenTtl = absl::Hours(24 * 7);
// 256 random bits, hex: what the agent must be given, once.
inline constexpr size_t kJoinTokenBytes = 32;

class RegistrationService final : public v1::Registration::Service {
 public:
  struct Options {
    identity::TrustDomain trust_domain;
    absl::Duration join_token_ttl = kDefaultJoinTokenTtl;
    // Empty: no per-call check (the admin socket checked the uid). Else
    // the peer's verified SVID must carry one of these IDs.
    std::set<std::string> admin_ids;
    bool require_admin_svid = false;
    // The bundle to verify admin SVIDs with, now.
    std::function<absl::StatusOr<identity::X509Bundle>()> bundle;
    // The root (DER) this replica signs under now; PruneBundle never
    // removes it.
    std::function<std::string()> signing_root;
  };

  RegistrationService(Options options, ServerStore& store,
                      const identity::Clock& clock)
      : options_(std::move(options)), store_(store), clock_(clock) {}

  grpc::Status CreateEntry(grpc::ServerContext* context,
                           const v1::Entry* request,
                           v1::Entry* response) override;
  grpc::Status UpdateEntry(grpc::ServerContext* context,
                           const v1::Entry* request,
                           v1::Entry* response) override;
  grpc::Status DeleteEntry(grpc::ServerContext* context,
                           const v1::EntryId* request,
                           v1::DeleteEntryResponse* response) override;
  grpc::Status GetEntry(grpc::ServerContext* context,
                        const v1::EntryId* request,
                        v1::Entry* response) override;
  grpc::Status ListEntries(grpc::ServerContext* context,
                           const v1::ListEntriesRequest* request,
                           v1::ListEntriesResponse* response) override;
  grpc::Status CreateJoinToken(grpc::ServerContext* context,
                               const v1::CreateJoinTokenRequest* request,
                               v1::CreateJoinTokenResponse* response) override;
  grpc::Status ListAgents(grpc::ServerContext* context,
                          const v1::ListAgentsRequest* request,
                          v1::ListAgentsResponse* response) override;
  grpc::Status EvictAgent(grpc::ServerContext* context,
                          const v1::AgentId* request,
                          v1::Agent* response) override;
  grpc::Status PruneBundle(grpc::ServerContext* context,
                           const v1::PruneBundleRequest* request,
                           v1::PruneBundleResponse* response) override;

 private:
  // OK on the admin socket; on TLS, the caller must be an admin ID.
  absl::Status Authorize(const grpc::ServerContext& context) const;
  // Runs `body` after Authorize, logging the outcome as `method`.
  grpc::Status Call(const grpc::ServerContext& context,
                    absl::string_view method,
                    const std::function<absl::Status()>& body) const;

  const Options options_;
  ServerStore& store_;
  const identity::Clock& clock_;
};

// Every Registration call: PermissionDenied naming admin_uids. (gRPC does
// not tell a service which connection a call came on, so the uid itself is
// in the server's log line for the connection, not in the message.)
class RefusingRegistration final : public v1::Registration::Service {
 public:
  RefusingRegistration() = default;
  grpc::Status CreateEntry(grpc::ServerContext*, const v1::Entry*,
                           v1::Entry*) override;
  grpc::Status UpdateEntry(grpc::ServerContext*, const v1::Entry*,
                           v1::Entry*) override;
  grpc::Status DeleteEntry(grpc::ServerContext*, const v1::EntryId*,
                           v1::DeleteEntryResponse*) override;
  grpc::Status GetEntry(grpc::ServerContext*, const v1::EntryId*,
                        v1::Entry*) override;
  grpc::Status ListEntries(grpc::ServerContext*, const v1::ListEntriesRequest*,
                           v1::ListEntriesResponse*) override;
  grpc::Status CreateJoinToken(grpc::ServerContext*,
                               const v1::CreateJoinTokenRequest*,
                               v1::CreateJoinTokenResponse*) override;
  grpc::Status ListAgents(grpc::ServerContext*, const v1::ListAgentsRequest*,
                          v1::ListAgentsResponse*) override;
  grpc::Status EvictAgent(grpc::ServerContext*, const v1::AgentId*,
                          v1::Agent*) override;
  grpc::Status PruneBundle(grpc::ServerContext*, const v1::PruneBundleRequest*,
                           v1::PruneBundleResponse*) override;

 private:
  static grpc::Status Refuse();
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_REGISTRATION_SERVICE_H_
