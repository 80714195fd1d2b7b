// JWT-SVID minting and validation: see jwt.h.
#include "identity/jwt.h"

#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/internal/jose.h"
#include "identity/json_util.h"
#include "identity/keys.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using internal::B64;
using internal::Curve;
using internal::CurveOf;
using internal::StringField;
using internal::Unb64;

// Bytes of the public key hash that make a kid: 128 bits never collide
// among a trust domain's handful of keys.
constexpr size_t kKeyIdHashBytes = 16;

absl::StatusOr<std::string> KeyIdOf(EVP_PKEY& key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(&key, &der);
  if (len <= 0) return absl::InternalError("cannot encode the public key");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  return B64(
      absl::string_view(reinterpret_cast<char*>(digest), kKeyIdHashBytes));
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("JWT-SVID rejected: ", why));
}

}  // namespace

absl::StatusOr<JwtSigningKey> JwtSigningKeyFromKey(UniqueEvpPkey key) {
  const Curve* curve = CurveOf(*key);
  if (curve == nullptr || absl::string_view(curve->alg) != "ES256") {
    return absl::InvalidArgumentError("a JWT signing key must be EC P-256");
  }
  ASSIGN_OR_RETURN(std::string kid, KeyIdOf(*key));
  return JwtSigningKey{std::move(kid), std::move(key)};
}

absl::StatusOr<JwtSigningKey> GenerateJwtSigningKey() {
  ASSIGN_OR_RETURN(UniqueEvpPkey key, GenerateKey(KeyType::kEcP256));
  return JwtSigningKeyFromKey(std::move(key));
}

absl::StatusOr<std::string> MintJwtSvid(const JwtSvidRequest& request,
                                        const JwtSigningKey& key,
                                        const Clock& clock) {
  if (request.audience.empty()) {
    return absl::InvalidArgumentError("a JWT-SVID needs an audience");
  }
  for (const std::string& aud : request.audience) {
    if (aud.empty()) return absl::InvalidArgumentError("empty audience");
  }
  if (request.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("JWT-SVID ttl must be positive");
  }
  const Curve* curve = CurveOf(*key.key);
  if (curve == nullptr) return absl::InvalidArgumentError("not an EC key");
  const absl::Time now = clock.Now();
  const absl::Duration ttl = std::min(request.ttl, kMaxJwtSvidTtl);

  // Written by hand so that the field order is fixed.
  const std::string header =
      absl::StrCat("{\"alg\":", JsonQuote(curve->alg),
                   ",\"kid\":", JsonQuote(key.key_id), ",\"typ\":\"JWT\"}");
  std::string aud;
  if (request.audience.size() == 1) {
    aud = JsonQuote(request.audience[0]);
  } else {
    for (const std::string& a : request.audience) {
      absl::StrAppend(&aud, aud.empty() ? "[" : ",", JsonQuote(a));
    }
    aud += "]";
  }
  const std::string claims = absl::StrCat(
      "{\"sub\":", JsonQuote(request.id.ToString()), ",\"aud\":", aud,
      ",\"exp\":", absl::ToUnixSeconds(now + ttl),
      ",\"iat\":", absl::ToUnixSeconds(now), "}");
  const std::string input = absl::StrCat(B64(header), ".", B64(claims));
  ASSIGN_OR_RETURN(std::string sig, internal::SignRaw(*key.key, *curve, input));
  return absl::StrCat(input, ".", B64(sig));
}

absl::StatusOr<JwtSvidClaims> ValidateJwtSvid(
    absl::string_view token, absl::string_view audience,
    const std::function<const JwtBundle*(const TrustDomain&)>& bundle_for,
    const Clock& clock) {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "a JWT-SVID is a compact JWS: three base64url parts joined by '.'");
  }
  ASSIGN_OR_RETURN(std::string header_json, Unb64(parts[0], "header"));
  ASSIGN_OR_RETURN(std::string claims_json, Unb64(parts[1], "payload"));
  ASSIGN_OR_RETURN(std::string signature, Unb64(parts[2], "signature"));
  ASSIGN_OR_RETURN(Struct header,
                   internal::ParseJsonObject(header_json, "header"));
  ASSIGN_OR_RETURN(Struct claims,
                   internal::ParseJsonObject(claims_json, "payload"));

  const std::string* alg = StringField(header, "alg");
  if (alg == nullptr) return absl::InvalidArgumentError("header has no alg");
  const Curve* curve = internal::FindCurve(&Curve::alg, *alg);
  if (curve == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "alg \"", *alg, "\" is not accepted (ES256 and ES384 are)"));
  }
  const std::string* kid = StringField(header, "kid");
  if (kid == nullptr || kid->empty()) {
    return absl::InvalidArgumentError("header has no kid");
  }
  if (const std::string* typ = StringField(header, "typ");
      typ != nullptr && *typ != "JWT" && *typ != "JOSE") {
    return absl::InvalidArgumentError(
        absl::StrCat("typ \"", *typ, "\" is neither JWT nor JOSE"));
  }
  const std::string* sub = StringField(claims, "sub");
  if (sub == nullptr) return absl::InvalidArgumentError("claims have no sub");
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(*sub);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sub: ", id.status().message()));
  }
  auto exp = claims.fields().find("exp");
  if (exp == claims.fields().end() || !exp->second.has_number_value()) {
    return absl::InvalidArgumentError("claims have no numeric exp");
  }
  std::vector<std::string> auds;
  auto aud = claims.fields().find("aud");
  if (aud != claims.fields().end() && aud->second.has_string_value()) {
    auds.push_back(aud->second.string_value());
  } else if (aud != claims.fields().end() && aud->second.has_list_value()) {
    for (const Value& v : aud->second.list_value().values()) {
      if (!v.has_string_value()) {
        return absl::InvalidArgumentError("aud holds a non-string");
      }
      auds.push_back(v.string_value());
    }
  }
  if (auds.empty()) return absl::InvalidArgumentError("claims have no aud");

  const JwtBundle* bundle = bundle_for(id->trust_domain());
  if (bundle == nullptr) {
    return Unauthenticated(absl::StrCat("no JWT bundle for trust domain \"",
                                        id->trust_domain().name(), "\""));
  }
  EVP_PKEY* key = bundle->FindKey(*kid);
  if (key == nullptr) {
    return Unauthenticated(absl::StrCat(
        "no key \"", *kid, "\" in the bundle of ", id->trust_domain().name()));
  }
  if (CurveOf(*key) != curve) {
    return Unauthenticated(
        absl::StrCat("key \"", *kid, "\" is not for ", *alg));
  }
  const std::string input = absl::StrCat(parts[0], ".", parts[1]);
  if (!internal::VerifyRaw(*key, *curve, input, signature)) {
    return Unauthenticated("signature does not verify");
  }
  const absl::Time expiry =
      absl::FromUnixSeconds(static_cast<int64_t>(exp->second.number_value()));
  if (clock.Now() >= expiry) {
    return Unauthenticated(absl::StrCat(
        "expired at ",
        absl::FormatTime(absl::RFC3339_sec, expiry, absl::UTCTimeZone())));
  }
  if (std::find(auds.begin(), auds.end(), audience) == auds.end()) {
    return Unauthenticated(
        absl::StrCat("audience \"", audience, "\" is not in aud"));
  }
  return JwtSvidClaims{*std::move(id), std::move(auds), expiry,
                       std::move(claims)};
}

}  // namespace mayfly::identity
