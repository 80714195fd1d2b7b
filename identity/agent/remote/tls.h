// How a server-mode agent trusts mayfly-server, and the gRPC channel
// credentials that carry that trust.
//
// The agent checks the server's chain itself (no hostname check: servers
// are named by address lists that need not match their certificates):
//   - with a bundle file, the chain must verify to one of its roots;
//   - with a pinned root SHA-256, the chain's last certificate must be a
//     self-signed root whose DER has that digest, and the chain must verify
//     to it (the server sends its full chain, root included);
//   - with roots learned from the server (the bundle of the last SyncResponse
//     the agent accepted: after a root rotation the server's chain leads to
//     a root the configured bundle or pin does not know), the chain may
//     verify to one of those instead;
//   - either way, the leaf must be an X.509-SVID for
//     spiffe://TRUST_DOMAIN/mayfly/server (identity/x509_verify.h rules).
//
// The configured bundle or pin stays the bootstrap: it is what the first
// connection is checked against, and it is never replaced, only joined by
// the learned roots. Learned roots come only from a SyncResponse, which
// arrives over a connection already checked this way (or from the agent's
// own 0600 cache of one): no unauthenticated input adds a root.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"

namespace mayfly::agent::remote {

// The path of the server's SPIFFE ID in its trust domain.
inline constexpr absl::string_view kServerIdPath = "/mayfly/server";

struct ServerTrust {
  identity::TrustDomain trust_domain;
  // The bootstrap, from the config. Exactly one is set.
  std::optional<identity::X509Bundle> bundle;
  std::string root_sha256;  // lowercase hex
  // The roots of the last bundle the server sent on Sync, if any.
  std::optional<identity::X509Bundle> learned;

  // From the config: reads the bundle file if one is named.
  static absl::StatusOr<ServerTrust> Load(
      const identity::TrustDomain& trust_domain, const std::string& bundle_file,
      const std::string& root_sha256);
};

// The trust in force now, shared by every connection to the server: each
// TLS handshake reads Current(), so a root learned on Sync applies to the
// next connection (a reconnect, a failover) without new channels.
class ServerTrustSource {
 public:
  explicit ServerTrustSource(ServerTrust bootstrap);

  std::shared_ptr<const ServerTrust> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Replaces the learned roots with `roots`, the bundle of a SyncResponse
  // the agent accepted. InvalidArgument (and nothing changes) if it is
  // empty or of another trust domain: a broken bundle never takes away the
  // trust the agent has. Returns whether the learned roots changed.
  absl::StatusOr<bool> Learn(const identity::X509Bundle& roots)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ServerTrust> current_ ABSL_GUARDED_BY(mu_);
};

// OK if `chain_pem` (leaf first, as the server sent it) is trusted at `now`
// as described above; Unauthenticated naming the rule broken otherwise.
absl::Status VerifyServerChain(const ServerTrust& trust,
                               absl::string_view chain_pem, absl::Time now);

// Channel credentials checking the server with VerifyServerChain. With
// `cert_chain_pem`/`key_pem` empty the agent shows no certificate (Attest);
// otherwise it shows its agent SVID (every other Node call).
std::shared_ptr<grpc::ChannelCredentials> ServerChannelCredentials(
    std::shared_ptr<const ServerTrustSource> trust,
    const identity::Clock& clock, const std::string& cert_chain_pem,
    const std::string& key_pem);

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_
