// JWT-SVIDs: minting (ES256), validation against a trust domain's JWT
// authorities, and the JWK set those authorities travel in.
//
// Rules from the SPIFFE JWT-SVID spec: a compact JWS whose header names the
// key (kid) and an allowed algorithm; claims sub (the SPIFFE ID), aud
// (required) and exp (required). Validation returns InvalidArgument for a
// token that is not a well-formed JWT-SVID and Unauthenticated for a
// well-formed one that must not be accepted (unknown key, bad signature,
// expired, wrong audience).
//
// Validation is built for tokens from anyone: the token's size is checked
// before anything is decoded, the small header is parsed (bounded) to find
// the key, and the signature is checked over the raw bytes before the
// claims are parsed, so an unsigned payload never reaches the JSON parser.
//
// Thread-compatible: const objects may be shared across threads.
#ifndef MAYFLY_IDENTITY_JWT_H_
#define MAYFLY_IDENTITY_JWT_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/struct.pb.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {

// The cap and SPIRE's default: a bearer token should not outlive a
// few minutes.
inline constexpr absl::Duration kMaxJwtSvidTtl = absl::Minutes(5);
inline constexpr char kJwtSvidUse[] = "jwt-svid";
// The longest compact token accepted, checked before anything is decoded.
// gRPC's default metadata limit and the default header limits of common
// HTTP servers (nginx large_client_header_buffers, Apache
// LimitRequestFieldSize) are 8 KiB: a longer bearer token could not be
// presented to a server anyway. A JWT-SVID we mint is under 3 KiB even with
// a 2048-byte SPIFFE ID.
inline constexpr size_t kMaxJwtSvidBytes = 8192;
// The largest decoded JOSE header accepted. It is parsed before the
// signature is checked, so it is kept small: alg, kid and typ, the only
// header parameters the JWT-SVID spec names, take under 100 bytes.
inline constexpr size_t kMaxJwsHeaderBytes = 1024;
// The deepest nesting of arrays and objects accepted in a token's header or
// claims. JWT-SVID claims nest two deep (the aud list); the deepest claims in
// common use, Kubernetes service account tokens' "kubernetes.io", three. 16
// leaves room for others' claims and keeps parsing cost linear in size.
inline constexpr int kMaxJwtJsonDepth = 16;

struct JwtSigningKey {
  // base64url of the first 16 bytes of SHA-256(SubjectPublicKeyInfo): the
  // same key always gets the same kid.
  std::string key_id;
  UniqueEvpPkey key;  // P-256
};

absl::StatusOr<JwtSigningKey> GenerateJwtSigningKey();
// Wraps an existing P-256 key (e.g. loaded from disk), computing its kid.
absl::StatusOr<JwtSigningKey> JwtSigningKeyFromKey(UniqueEvpPkey key);

struct JwtSvidRequest {
  SpiffeId id;
  std::vector<std::string> audience;
  absl::Duration ttl = kMaxJwtSvidTtl;
};

// Compact JWS: header {"alg":"ES256","kid":...,"typ":"JWT"}, claims sub,
// aud (a string for one audience, else a list), exp, iat. The TTL is capped
// at kMaxJwtSvidTtl.
absl::StatusOr<std::string> MintJwtSvid(const JwtSvidRequest& request,
                                        const JwtSigningKey& key,
                                        const Clock& clock);

// A trust domain's JWT authorities, by key ID.
class JwtBundle {
 public:
  explicit JwtBundle(TrustDomain trust_domain)
      : trust_domain_(std::move(trust_domain)) {}
  JwtBundle(const JwtBundle& other);
  JwtBundle& operator=(const JwtBundle& other);
  JwtBundle(JwtBundle&&) = default;
  JwtBundle& operator=(JwtBundle&&) = default;

  // EC P-256/P-384 keys with use "jwt-svid" (or no use); keys for
  // "x509-svid" are skipped. InvalidArgument names the key index and field.
  static absl::StatusOr<JwtBundle> FromJwks(TrustDomain trust_domain,
                                            absl::string_view json);

  const TrustDomain& trust_domain() const { return trust_domain_; }
  // Shares `key` (a public or private key; only the public half is used).
  void AddKey(const std::string& key_id, EVP_PKEY& key);
  // Null if absent.
  EVP_PKEY* FindKey(absl::string_view key_id) const;
  size_t size() const { return keys_.size(); }

  // {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,
  // "use":"jwt-svid"}]}, keys in kid order.
  absl::StatusOr<std::string> ToJwks() const;

 private:
  TrustDomain trust_domain_;
  std::map<std::string, UniqueEvpPkey> keys_;
};

struct JwtSvidClaims {
  SpiffeId id;
  std::vector<std::string> audience;
  absl::Time expiry;
  // Every claim, as the Workload API's ValidateJWTSVID returns them.
  google::protobuf::Struct claims;
};

// Validates `token` for `audience` at clock.Now() against the trusted JWT
// `bundles` (not owned; typically the local trust domain's and federated
// ones). The key is found by the header's kid in every bundle that holds
// it, and the claims' sub must belong to the trust domain of a bundle whose
// key verified the signature. Costs at most one ECDSA verification per
// bundle holding the kid, plus linear work on at most kMaxJwtSvidBytes.
absl::StatusOr<JwtSvidClaims> ValidateJwtSvid(
    absl::string_view token, absl::string_view audience,
    absl::Span<const JwtBundle* const> bundles, const Clock& clock);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_JWT_H_
