// How a server-mode agent trusts mayfly-server, and the gRPC channel
// credentials that carry that trust.
//
// The agent checks the server's chain itself (no hostname check: servers
// are named by address lists that need not match their certificates):
//   - with a bundle file, the chain must verify to one of its roots;
//   - with a pinned root SHA-256, the chain's last certificate must be a
//     self-signed root whose DER has that digest, and the chain must verify
//     to it (the server sends its full chain, root included);
//   - either way, the leaf must be an X.509-SVID for
//     spiffe://TRUST_DOMAIN/mayfly/server (identity/x509_verify.h rules).
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"

namespace mayfly::agent::remote {

// The path of the server's SPIFFE ID in its trust domain.
inline constexpr absl::string_view kServerIdPath = "/mayfly/server";

struct ServerTrust {
  identity::TrustDomain trust_domain;
  // Exactly one is set.
  std::optional<identity::X509Bundle> bundle;
  std::string root_sha256;  // lowercase hex

  // From the config: reads the bundle file if one is named.
  static absl::StatusOr<ServerTrust> Load(
      const identity::TrustDomain& trust_domain, const std::string& bundle_file,
      const std::string& root_sha256);
};

// OK if `chain_pem` (leaf first, as the server sent it) is trusted at `now`
// as described above; Unauthenticated naming the rule broken otherwise.
absl::Status VerifyServerChain(const ServerTrust& trust,
                               absl::string_view chain_pem, absl::Time now);

// Channel credentials checking the server with VerifyServerChain. With
// `cert_chain_pem`/`key_pem` empty the agent shows no certificate (Attest);
// otherwise it shows its agent SVID (every other Node call).
std::shared_ptr<grpc::ChannelCredentials> ServerChannelCredentials(
    std::shared_ptr<const ServerTrust> trust, const identity::Clock& clock,
    const std::string& cert_chain_pem, const std::string& key_pem);

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_TLS_H_
