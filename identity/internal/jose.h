// JOSE plumbing shared by JWT-SVIDs and JWK sets: the EC curves JWS names,
// unpadded base64url, JSON objects, and ECDSA signatures in the raw r || s
// form JWS uses (RFC 7518 section 3.4). Internal: callers use jwt.h.
#ifndef MAYFLY_IDENTITY_INTERNAL_JOSE_H_
#define MAYFLY_IDENTITY_INTERNAL_JOSE_H_

#include <openssl/evp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "identity/json_util.h"
#include "identity/openssl_util.h"

namespace mayfly::identity::internal {

struct Curve {
  const char* crv;    // JWK name
  const char* group;  // OpenSSL group name
  const char* alg;    // JWS algorithm
  const EVP_MD* (*md)();
  size_t field_bytes;
};
// ES256 and ES384, the EC algorithms the JWT-SVID spec allows and we verify.
extern const Curve kCurves[2];

// The curve whose `field` (&Curve::crv, ::group or ::alg) is `value`, or
// null.
const Curve* FindCurve(const char* Curve::*field, absl::string_view value);
// The curve of an EC key, or null for any other key.
const Curve* CurveOf(const EVP_PKEY& key);

std::string B64(absl::string_view data);
// InvalidArgument naming `what` unless `data` is unpadded base64url.
absl::StatusOr<std::string> Unb64(absl::string_view data,
                                  absl::string_view what);
// A JSON object, parsed only once CheckJsonBounds(json, limits) holds:
// InvalidArgument naming `what` if it does not, or if `json` is no object.
absl::StatusOr<google::protobuf::Struct> ParseJsonObject(
    absl::string_view json, absl::string_view what, const JsonLimits& limits);
// A string member of `s`, or null.
const std::string* StringField(const google::protobuf::Struct& s,
                               const std::string& name);

// x || y of an EC public key, each the field's width.
absl::StatusOr<std::string> PublicPoint(EVP_PKEY& key, const Curve& curve);
// The public key at (x, y); InvalidArgument if the point is not on the curve.
absl::StatusOr<UniqueEvpPkey> EcPublicKey(const Curve& curve,
                                          absl::string_view x,
                                          absl::string_view y);

absl::StatusOr<std::string> SignRaw(EVP_PKEY& key, const Curve& curve,
                                    absl::string_view input);
bool VerifyRaw(EVP_PKEY& key, const Curve& curve, absl::string_view input,
               absl::string_view raw);

}  // namespace mayfly::identity::internal

#endif  // MAYFLY_IDENTITY_INTERNAL_JOSE_H_
