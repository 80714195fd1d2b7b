// UpstreamAuthority: a CA outside mayfly-server that certifies each
// replica's intermediate (step-ca today; Vault/OpenBao PKI or AWS Private CA
// would be other implementations, see docs/upstream.md).
//
// The replica makes its own key pair and sends only a CSR; the upstream
// answers with the certificate and the chain up to its root, and the roots
// the trust domain's bundle must carry. What comes back is checked before
// it is used (CheckUpstreamChain): the upstream is trusted to sign, not to
// answer sensibly.
//
// Implementations are thread-compatible; ReplicaSigner calls one at a time.
#ifndef MAYFLY_IDENTITY_SERVER_UPSTREAM_UPSTREAM_AUTHORITY_H_
#define MAYFLY_IDENTITY_SERVER_UPSTREAM_UPSTREAM_AUTHORITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"

namespace mayfly::server::upstream {

struct UpstreamChain {
  // The replica's intermediate first, then the upstream's CAs up to its
  // root, the root excluded.
  identity::CertChain chain;
  // The upstream's roots (self-signed), for the store's bundle.
  identity::CertChain roots;
};

class UpstreamAuthority {
 public:
  virtual ~UpstreamAuthority() = default;
  // Certifies the key of `csr_der` (PKCS#10, DER, naming spiffe://TD as its
  // one URI SAN) as a CA for `ttl`. Errors say which upstream refused and
  // why, in the upstream's own words where it gave some.
  virtual absl::StatusOr<UpstreamChain> SignIntermediate(
      absl::string_view csr_der, absl::Duration ttl) = 0;
  // For logs and errors: "step-ca https://ca.example:9000".
  virtual std::string Name() const = 0;
};

// OK if `upstream` is fit to sign this replica's SVIDs: its first
// certificate certifies `key`, is a CA allowed to sign certificates, and
// verifies at clock.Now() to one of its roots under standard (RFC 5280)
// path validation; and no CA above it has a pathLenConstraint that forbids
// a CA below it (step-ca's default intermediate has pathlen:0, and leaves
// signed under it would fail every verifier). FailedPrecondition naming
// the certificate and the rule otherwise.
absl::Status CheckUpstreamChain(const UpstreamChain& upstream,
                                const EVP_PKEY& key,
                                const identity::Clock& clock);

}  // namespace mayfly::server::upstream

#endif  // MAYFLY_IDENTITY_SERVER_UPSTREAM_UPSTREAM_AUTHORITY_H_
