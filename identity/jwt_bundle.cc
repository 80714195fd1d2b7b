// A trust domain's JWT authorities and their JWK set: see jwt.h.
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/internal/jose.h"
#include "identity/json_util.h"
#include "identity/jwt.h"
#include "identity/status_macros.h"

namespace mayfly::identity {

using google::protobuf::Struct;
using internal::B64;
using internal::Curve;
using internal::CurveOf;
using internal::StringField;
using internal::Unb64;

// A JWK set is read from the agent or from disk, not from a workload, but
// it is still bounded: 1 MiB holds thousands of keys (one is ~200 bytes),
// and a JWK nests three deep ({"keys":[{"x5c":[...]}]}).
constexpr JsonLimits kJwksJsonLimits = {1 << 20, kMaxJwtJsonDepth};

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
    ASSIGN_OR_RETURN(std::string point, internal::PublicPoint(*key, *curve));
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
  ASSIGN_OR_RETURN(Struct jwks,
                   internal::ParseJsonObject(json, "JWK set", kJwksJsonLimits));
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
    const Curve* curve =
        internal::FindCurve(&Curve::crv, *StringField(jwk, "crv"));
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
    absl::StatusOr<UniqueEvpPkey> key = internal::EcPublicKey(*curve, x, y);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", key.status().message()));
    }
    bundle.AddKey(*StringField(jwk, "kid"), **key);
  }
  return bundle;
}

}  // namespace mayfly::identity
