// StepCa: an UpstreamAuthority backed by Smallstep's step-ca, through its
// HTTPS API and a JWK provisioner.
//
// For each intermediate the replica signs a one-time token (OTT) with the
// provisioner's private key: a compact JWS (ES256, header kid = the key's
// RFC 7638 thumbprint, which is how step-ca names a JWK provisioner's key)
// with the claims step-ca's JWK provisioner checks
// (authority/provisioner/jwk.go, authority/authorize.go in
// github.com/smallstep/certificates v0.30):
//   iss   the provisioner's name (with kid, selects the provisioner)
//   aud   https://HOST:PORT/1.0/sign (compared without the port)
//   sub   spiffe://TD, also the certificate's CN; must not be empty
//   sans  ["spiffe://TD"]: must equal the CSR's SANs exactly
//   iat, nbf, exp  now, now, now + 5 min (step-ca allows 1 min of skew and
//         refuses a token issued before it started)
//   jti   128 random bits, hex: step-ca refuses a second use
// then POSTs {"csr": PEM, "ott": token, "notAfter": "<ttl>s"} to /1.0/sign
// and reads {"crt", "ca", "certChain"}; the roots come from GET /1.0/roots.
// step-ca issues a CA certificate only if the provisioner's X.509 template
// says so (docs/upstream.md has the template and the CA layout).
//
// Thread-compatible.
#ifndef MAYFLY_IDENTITY_SERVER_UPSTREAM_STEPCA_H_
#define MAYFLY_IDENTITY_SERVER_UPSTREAM_STEPCA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/server/upstream/https_client.h"
#include "identity/server/upstream/upstream_authority.h"
#include "identity/spiffe_id.h"

namespace mayfly::server::upstream {

// step-ca's CLI makes tokens valid for 5 minutes; one is used at once.
inline constexpr absl::Duration kStepCaTokenTtl = absl::Minutes(5);
// step-ca's sign endpoint, also the token's audience.
inline constexpr char kStepCaSignPath[] = "/1.0/sign";
inline constexpr char kStepCaRootsPath[] = "/1.0/roots";

struct StepCaConfig {
  std::string url;                   // https://HOST[:PORT]
  std::string root_file;             // PEM: what may certify step-ca's TLS
  std::string provisioner;           // the JWK provisioner's name
  std::string provisioner_key_file;  // its private key, PEM (P-256), 0600
};

struct StepCaTokenClaims {
  std::string issuer;
  std::string audience;
  std::string subject;
  std::vector<std::string> sans;
  absl::Time issued_at;
  absl::Duration ttl = kStepCaTokenTtl;
  std::string jwt_id;
};

// The RFC 7638 thumbprint of a P-256 key (base64url of SHA-256 over
// {"crv","kty","x","y"}), step-ca's kid for a JWK provisioner key.
absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY& key);
// The public JWK of `key` with that kid, as a provisioner's "key" in
// step-ca's ca.json: {"use":"sig","kty":"EC","kid":..,"crv":"P-256",
// "alg":"ES256","x":..,"y":..}.
absl::StatusOr<std::string> PublicJwk(EVP_PKEY& key);
// The compact JWS of `claims`, ES256 with `kid`. Claims in a fixed order:
// aud, exp, iat, iss, jti, nbf, sans, sub.
absl::StatusOr<std::string> MintStepCaToken(const StepCaTokenClaims& claims,
                                            EVP_PKEY& key,
                                            const std::string& kid);

class StepCa : public UpstreamAuthority {
 public:
  // Reads root_file and the provisioner key (which must be private to this
  // user: CheckTrustedFile). InvalidArgument naming the file otherwise.
  static absl::StatusOr<std::unique_ptr<StepCa>> Create(
      const StepCaConfig& config, const identity::TrustDomain& td,
      const identity::Clock& clock,
      const HttpsClientOptions& options = HttpsClientOptions());

  absl::StatusOr<UpstreamChain> SignIntermediate(absl::string_view csr_der,
                                                 absl::Duration ttl) override;
  std::string Name() const override;

 private:
  StepCa(StepCaConfig config, identity::TrustDomain td,
         std::unique_ptr<HttpsClient> https, identity::UniqueEvpPkey key,
         std::string kid, const identity::Clock& clock)
      : config_(std::move(config)),
        td_(std::move(td)),
        https_(std::move(https)),
        key_(std::move(key)),
        kid_(std::move(kid)),
        clock_(clock) {}

  const StepCaConfig config_;
  const identity::TrustDomain td_;
  const std::unique_ptr<HttpsClient> https_;
  const identity::UniqueEvpPkey key_;
  const std::string kid_;
  const identity::Clock& clock_;
};

}  // namespace mayfly::server::upstream

#endif  // MAYFLY_IDENTITY_SERVER_UPSTREAM_STEPCA_H_
