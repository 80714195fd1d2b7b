// JWT-SVID minting and validation: see jwt.h.
#include "identity/jwt.h"

#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <utility>

#include "absl/algorithm/container.h"
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

// JSON from a token: nested at most kMaxJwtJsonDepth deep; the claims at
// most the token's size, the header (parsed before the signature is
// checked) much less.
constexpr JsonLimits kHeaderJsonLimits = {kMaxJwsHeaderBytes, kMaxJwtJsonDepth};
constexpr JsonLimits kClaimsJsonLimits = {kMaxJwtSvidBytes, kMaxJwtJsonDepth};
// exp beyond 9999-12-31T23:59:59Z (RFC 3339's last second) is not a time.
constexpr double kMaxExpSeconds = 253402300799;

struct JwsHeader {
  const Curve* curve;
  std::string kid;
};

absl::StatusOr<JwsHeader> ParseHeader(absl::string_view encoded) {
  ASSIGN_OR_RETURN(std::string json, Unb64(encoded, "header"));
  ASSIGN_OR_RETURN(Struct header, internal::ParseJsonObject(json, "header",
                                                            kHeaderJsonLimits));
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
  return JwsHeader{curve, *kid};
}

struct Claims {
  SpiffeId id;
  std::vector<std::string> audience;
  absl::Time expiry;
  Struct all;
};

absl::StatusOr<Claims> ParseClaims(absl::string_view encoded) {
  ASSIGN_OR_RETURN(std::string json, Unb64(encoded, "payload"));
  ASSIGN_OR_RETURN(Struct claims, internal::ParseJsonObject(json, "payload",
                                                            kClaimsJsonLimits));
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
  const double exp_seconds = exp->second.number_value();
  if (!(exp_seconds >= 0 && exp_seconds <= kMaxExpSeconds)) {
    return absl::InvalidArgumentError("exp is not a time (0 to year 9999)");
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
  const absl::Time expiry =
      absl::FromUnixSeconds(static_cast<int64_t>(exp_seconds));
  return Claims{*std::move(id), std::move(auds), expiry, std::move(claims)};
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
    absl::Span<const JwtBundle* const> bundles, const Clock& clock) {
  // Before anything else: every later step is linear in this size.
  if (token.size() > kMaxJwtSvidBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token is ", token.size(),
                     " bytes; a JWT-SVID is at most ", kMaxJwtSvidBytes));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "a JWT-SVID is a compact JWS: three base64url parts joined by '.'");
  }
  ASSIGN_OR_RETURN(JwsHeader header, ParseHeader(parts[0]));
  ASSIGN_OR_RETURN(std::string signature, Unb64(parts[2], "signature"));

  // The signature covers the encoded header and payload as sent (RFC 7515
  // section 5.2): check it before the payload is decoded or parsed.
  const std::string input = absl::StrCat(parts[0], ".", parts[1]);
  std::vector<const TrustDomain*> signed_by;
  int holders = 0;
  int right_curve = 0;
  for (const JwtBundle* bundle : bundles) {
    EVP_PKEY* key = bundle->FindKey(header.kid);
    if (key == nullptr) continue;
    ++holders;
    if (CurveOf(*key) != header.curve) continue;
    ++right_curve;
    if (internal::VerifyRaw(*key, *header.curve, input, signature)) {
      signed_by.push_back(&bundle->trust_domain());
    }
  }
  if (holders == 0) {
    return Unauthenticated(
        absl::StrCat("no key \"", header.kid, "\" in any trusted JWT bundle"));
  }
  if (right_curve == 0) {
    return Unauthenticated(absl::StrCat("key \"", header.kid, "\" is not for ",
                                        header.curve->alg));
  }
  if (signed_by.empty()) return Unauthenticated("signature does not verify");

  ASSIGN_OR_RETURN(Claims claims, ParseClaims(parts[1]));
  const TrustDomain& td = claims.id.trust_domain();
  if (!absl::c_any_of(signed_by,
                      [&](const TrustDomain* t) { return *t == td; })) {
    const bool known = absl::c_any_of(
        bundles, [&](const JwtBundle* b) { return b->trust_domain() == td; });
    return Unauthenticated(
        known ? absl::StrCat("key \"", header.kid,
                             "\" is not in the JWT bundle of trust domain \"",
                             td.name(), "\"")
              : absl::StrCat("no JWT bundle for trust domain \"", td.name(),
                             "\""));
  }
  if (clock.Now() >= claims.expiry) {
    return Unauthenticated(absl::StrCat(
        "expired at ", absl::FormatTime(absl::RFC3339_sec, claims.expiry,
                                        absl::UTCTimeZone())));
  }
  if (!absl::c_linear_search(claims.audience, audience)) {
    return Unauthenticated(
        absl::StrCat("audience \"", audience, "\" is not in aud"));
  }
  return JwtSvidClaims{std::move(claims.id), std::move(claims.audience),
                       claims.expiry, std::move(claims.all)};
}

}  // namespace mayfly::identity
