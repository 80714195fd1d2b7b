// JOSE helpers: see jose.h.
#include "identity/internal/jose.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/json_util.h"

namespace mayfly::identity::internal {

using google::protobuf::Struct;

const Curve kCurves[2] = {
    {"P-256", "prime256v1", "ES256", EVP_sha256, 32},
    {"P-384", "secp384r1", "ES384", EVP_sha384, 48},
};

const Curve* FindCurve(const char* Curve::*field, absl::string_view value) {
  for (const Curve& c : kCurves) {
    if (value == c.*field) return &c;
  }
  return nullptr;
}

const Curve* CurveOf(const EVP_PKEY& key) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(&key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    return nullptr;
  }
  return FindCurve(&Curve::group, group);
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
                                       absl::string_view what,
                                       const JsonLimits& limits) {
  if (absl::Status s = CheckJsonBounds(json, limits, what); !s.ok()) return s;
  Struct out;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &out)
           .ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a JSON object"));
  }
  return out;
}

const std::string* StringField(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_string_value()) return nullptr;
  return &it->second.string_value();
}

namespace {

std::string BnBytes(const BIGNUM& bn, size_t width) {
  std::string out(width, '\0');
  BN_bn2binpad(&bn, reinterpret_cast<unsigned char*>(out.data()),
               static_cast<int>(width));
  return out;
}

}  // namespace

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

}  // namespace mayfly::identity::internal
