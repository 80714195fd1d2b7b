// JWT-SVID minting and validation: see jwt.h.
#include "identity/jwt.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/json_util.h"
#include "identity/keys.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Bytes of the public key hash that make a kid: 128 bits never collide
// among a trust domain's handful of keys.
constexpr size_t kKeyIdHashBytes = 16;

struct Curve {
  const char* crv;    // JWK name
  const char* group;  // OpenSSL group name
  const char* alg;    // JWS algorithm
  const EVP_MD* (*md)();
  size_t field_bytes;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", "ES256", EVP_sha256, 32},
    {"P-384", "secp384r1", "ES384", EVP_sha384, 48},
};

const Curve* CurveOf(const EVP_PKEY& key) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(&key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    return nullptr;
  }
  for (const Curve& c : kCurves) {
    if (absl::string_view(group) == c.group) return &c;
  }
  return nullptr;
}

std::string B64(absl::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(data, &out);
  return out;
}

absl::StatusOr<std::string> Unb64(absl::string_view data,
                                  absl::string_view what) {
  std::string out;
  // JWS forbids padding; a stray '=' or '+' means another encoding.
  if (data.find_first_of("=+/") != absl::string_view::npos ||
      !absl::WebSafeBase64Unescape(data, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not unpadded base64url"));
  }
  return out;
}

absl::StatusOr<Struct> ParseJsonObject(absl::string_view json,
                                       absl::string_view what) {
  Struct out;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &out)
           .ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a JSON object"));
  }
  return out;
}

std::string BnBytes(const BIGNUM& bn, size_t width) {
  std::string out(width, '\0');
  BN_bn2binpad(&bn, reinterpret_cast<unsigned char*>(out.data()),
               static_cast<int>(width));
  return out;
}

// x || y of an EC public key. The SubjectPublicKeyInfo ends with the
// uncompressed point 04 || x || y (RFC 5480 section 2.2).
absl::StatusOr<std::string> PublicPoint(EVP_PKEY& key, const Curve& curve) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(&key, &der);
  const size_t point = 2 * curve.field_bytes;
  if (len <= 0 || static_cast<size_t>(len) < point + 1) {
    OPENSSL_free(der);
    return absl::InternalError("cannot encode the EC public key");
  }
  const char* bytes = reinterpret_cast<const char*>(der);
  std::string out;
  if (bytes[len - point - 1] == 0x04) out.assign(bytes + len - point, point);
  OPENSSL_free(der);
  if (out.empty()) return absl::InternalError("EC point is not uncompressed");
  return out;
}

absl::StatusOr<UniqueEvpPkey> EcPublicKey(const Curve& curve,
                                          absl::string_view x,
                                          absl::string_view y) {
  std::string point = absl::StrCat("\x04", x, y);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve.group,
                                  0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                   point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  UniqueEvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  const bool ok =
      params != nullptr && ctx != nullptr &&
      EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok)
    return absl::InvalidArgumentError("not a point on " +
                                      std::string(curve.crv));
  // A point off the curve is refused by a public-key check.
  UniqueEvpPkey out(key);
  UniqueEvpPkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a point on ", curve.crv));
  }
  return out;
}

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

absl::StatusOr<std::string> SignRaw(EVP_PKEY& key, const Curve& curve,
                                    absl::string_view input) {
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, curve.md(), nullptr, &key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError("ECDSA signing failed");
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()),
                     &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError("ECDSA signing failed");
  }
  // JWS wants r || s, each the field's width, not the DER ECDSA-Sig-Value.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  if (sig == nullptr) return absl::InternalError("bad ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out =
      BnBytes(*r, curve.field_bytes) + BnBytes(*s, curve.field_bytes);
  ECDSA_SIG_free(sig);
  return out;
}

bool VerifyRaw(EVP_PKEY& key, const Curve& curve, absl::string_view input,
               absl::string_view raw) {
  if (raw.size() != 2 * curve.field_bytes) return false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(curve.field_bytes), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + curve.field_bytes,
                        static_cast<int>(curve.field_bytes), nullptr);
  // ECDSA_SIG_set0 takes r and s.
  if (sig == nullptr || r == nullptr || s == nullptr ||
      ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return false;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (der_len <= 0) return false;
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, curve.md(), nullptr, &key) ==
          1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

const std::string* StringField(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_string_value()) return nullptr;
  return &it->second.string_value();
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
  ASSIGN_OR_RETURN(std::string sig, SignRaw(*key.key, *curve, input));
  return absl::StrCat(input, ".", B64(sig));
}

JwtBundle::JwtBundle(const JwtBundle& other)
    : trust_domain_(other.trust_domain_) {
  for (const auto& [kid, key] : other.keys_) AddKey(kid, *key);
}

JwtBundle& JwtBundle::operator=(const JwtBundle& other) {
  if (this != &other) {
    JwtBundle copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void JwtBundle::AddKey(const std::string& key_id, EVP_PKEY& key) {
  // Shares the key: one more reference, released with the map entry.
  EVP_PKEY_up_ref(&key);
  keys_[key_id] = UniqueEvpPkey(&key);
}

EVP_PKEY* JwtBundle::FindKey(absl::string_view key_id) const {
  auto it = keys_.find(std::string(key_id));
  return it == keys_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::string> JwtBundle::ToJwks() const {
  std::string keys;
  for (const auto& [kid, key] : keys_) {
    const Curve* curve = CurveOf(*key);
    if (curve == nullptr) return absl::InternalError("non-EC key in bundle");
    ASSIGN_OR_RETURN(std::string point, PublicPoint(*key, *curve));
    absl::StrAppend(
        &keys, keys.empty() ? "" : ",",
        "{\"kty\":\"EC\",\"crv\":", JsonQuote(curve->crv),
        ",\"x\":", JsonQuote(B64(point.substr(0, curve->field_bytes))),
        ",\"y\":", JsonQuote(B64(point.substr(curve->field_bytes))),
        ",\"kid\":", JsonQuote(kid), ",\"use\":", JsonQuote(kJwtSvidUse), "}");
  }
  return absl::StrCat("{\"keys\":[", keys, "]}");
}

absl::StatusOr<JwtBundle> JwtBundle::FromJwks(TrustDomain trust_domain,
                                              absl::string_view json) {
  ASSIGN_OR_RETURN(Struct jwks, ParseJsonObject(json, "JWK set"));
  auto keys = jwks.fields().find("keys");
  if (keys == jwks.fields().end() || !keys->second.has_list_value()) {
    return absl::InvalidArgumentError("JWK set has no \"keys\" list");
  }
  JwtBundle bundle(std::move(trust_domain));
  const auto& values = keys->second.list_value().values();
  for (int i = 0; i < values.size(); ++i) {
    const std::string where = absl::StrCat("keys[", i, "]");
    if (!values[i].has_struct_value()) {
      return absl::InvalidArgumentError(where + " is not an object");
    }
    const Struct& jwk = values[i].struct_value();
    const std::string* use = StringField(jwk, "use");
    if (use != nullptr && *use != kJwtSvidUse) continue;
    for (const char* field : {"kty", "kid", "crv", "x", "y"}) {
      if (StringField(jwk, field) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".", field, " is missing or not a string"));
      }
    }
    if (*StringField(jwk, "kty") != "EC") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".kty \"", *StringField(jwk, "kty"),
                       "\" is not supported (EC only)"));
    }
    const Curve* curve = nullptr;
    for (const Curve& c : kCurves) {
      if (*StringField(jwk, "crv") == c.crv) curve = &c;
    }
    if (curve == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".crv \"", *StringField(jwk, "crv"), "\" is not supported"));
    }
    ASSIGN_OR_RETURN(std::string x,
                     Unb64(*StringField(jwk, "x"), where + ".x"));
    ASSIGN_OR_RETURN(std::string y,
                     Unb64(*StringField(jwk, "y"), where + ".y"));
    if (x.size() != curve->field_bytes || y.size() != curve->field_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".x/.y must be ", curve->field_bytes,
                       " bytes each for ", curve->crv));
    }
    absl::StatusOr<UniqueEvpPkey> key = EcPublicKey(*curve, x, y);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", key.status().message()));
    }
    bundle.AddKey(*StringField(jwk, "kid"), **key);
  }
  return bundle;
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
  ASSIGN_OR_RETURN(Struct header, ParseJsonObject(header_json, "header"));
  ASSIGN_OR_RETURN(Struct claims, ParseJsonObject(claims_json, "payload"));

  const std::string* alg = StringField(header, "alg");
  if (alg == nullptr) return absl::InvalidArgumentError("header has no alg");
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (*alg == c.alg) curve = &c;
  }
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
  if (!VerifyRaw(*key, *curve, input, signature)) {
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
