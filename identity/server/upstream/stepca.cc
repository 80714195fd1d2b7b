// StepCa: see stepca.h.
#include "identity/server/upstream/stepca.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/internal/jose.h"
#include "identity/json_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::server::upstream {
namespace {

using google::protobuf::Struct;
using identity::JsonQuote;
namespace jose = identity::internal;

// A sign response is a few certificates; the roots list the CA's roots.
// Depth: {"certChain":[...]} plus tlsOptions' lists, well under 8.
constexpr identity::JsonLimits kResponseJsonLimits = {kDefaultMaxResponseBytes,
                                                      8};
// step-ca's error bodies are {"status":N,"message":"..."}; quote at most
// this much of one in our own error.
constexpr size_t kMaxQuotedErrorBytes = 512;
// jti: 128 random bits, as hex.
constexpr size_t kJwtIdBytes = 16;

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(bytes)) != 1) {
    return identity::OpenSslError("RAND_bytes");
  }
  return absl::BytesToHexString(raw);
}

absl::StatusOr<std::pair<std::string, std::string>> PublicXY(EVP_PKEY& key) {
  const jose::Curve* curve = jose::CurveOf(key);
  if (curve == nullptr || std::string(curve->crv) != "P-256") {
    return absl::InvalidArgumentError("the provisioner key must be EC P-256");
  }
  ASSIGN_OR_RETURN(std::string point, jose::PublicPoint(key, *curve));
  return std::make_pair(jose::B64(point.substr(0, curve->field_bytes)),
                        jose::B64(point.substr(curve->field_bytes)));
}

std::string CsrDerToPem(absl::string_view der) {
  std::string b64 = absl::Base64Escape(der);
  std::string out = "-----BEGIN CERTIFICATE REQUEST-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&out, b64.substr(i, 64), "\n");
  }
  absl::StrAppend(&out, "-----END CERTIFICATE REQUEST-----\n");
  return out;
}

// The upstream's own words when it refused, bounded and escaped.
std::string ErrorDetail(const HttpsResponse& r) {
  absl::StatusOr<Struct> parsed =
      jose::ParseJsonObject(r.body, "the error response", kResponseJsonLimits);
  std::string text = r.body;
  if (parsed.ok()) {
    if (const std::string* m = jose::StringField(*parsed, "message")) {
      text = *m;
    }
  }
  if (text.size() > kMaxQuotedErrorBytes) text.resize(kMaxQuotedErrorBytes);
  return absl::CEscape(text);
}

// Every certificate of a JSON list of PEM strings at `field`.
absl::StatusOr<identity::CertChain> PemList(const Struct& s,
                                            const std::string& field,
                                            absl::string_view what) {
  auto it = s.fields().find(field);
  if (it == s.fields().end() || !it->second.has_list_value() ||
      it->second.list_value().values_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has no \"", field, "\" list"));
  }
  identity::CertChain out;
  for (const auto& v : it->second.list_value().values()) {
    if (!v.has_string_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", field, "\" holds a non-string"));
    }
    absl::StatusOr<identity::CertChain> certs =
        identity::CertsFromPem(v.string_value());
    if (!certs.ok() || certs->size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": \"", field,
                       "\" holds something that is not one PEM "
                       "certificate"));
    }
    out.push_back(std::move((*certs)[0]));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> JwkThumbprint(EVP_PKEY& key) {
  ASSIGN_OR_RETURN(auto xy, PublicXY(key));
  // RFC 7638 section 3.2: the required members, sorted, no whitespace.
  const std::string canonical =
      absl::StrCat("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", xy.first,
                   "\",\"y\":\"", xy.second, "\"}");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), digest);
  return jose::B64(
      absl::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
}

absl::StatusOr<std::string> PublicJwk(EVP_PKEY& key) {
  ASSIGN_OR_RETURN(auto xy, PublicXY(key));
  ASSIGN_OR_RETURN(std::string kid, JwkThumbprint(key));
  return absl::StrCat(
      "{\"use\":\"sig\",\"kty\":\"EC\",\"kid\":", JsonQuote(kid),
      ",\"crv\":\"P-256\",\"alg\":\"ES256\",\"x\":", JsonQuote(xy.first),
      ",\"y\":", JsonQuote(xy.second), "}");
}

absl::StatusOr<std::string> MintStepCaToken(const StepCaTokenClaims& claims,
                                            EVP_PKEY& key,
                                            const std::string& kid) {
  const jose::Curve* curve = jose::CurveOf(key);
  if (curve == nullptr || std::string(curve->alg) != "ES256") {
    return absl::InvalidArgumentError("the provisioner key must be EC P-256");
  }
  const std::string header = absl::StrCat(
      "{\"alg\":\"ES256\",\"kid\":", JsonQuote(kid), ",\"typ\":\"JWT\"}");
  std::string sans = "[";
  for (const std::string& san : claims.sans) {
    absl::StrAppend(&sans, sans.size() > 1 ? "," : "", JsonQuote(san));
  }
  sans += "]";
  const int64_t iat = absl::ToUnixSeconds(claims.issued_at);
  const std::string payload = absl::StrCat(
      "{\"aud\":", JsonQuote(claims.audience),
      ",\"exp\":", absl::ToUnixSeconds(claims.issued_at + claims.ttl),
      ",\"iat\":", iat, ",\"iss\":", JsonQuote(claims.issuer),
      ",\"jti\":", JsonQuote(claims.jwt_id), ",\"nbf\":", iat,
      ",\"sans\":", sans, ",\"sub\":", JsonQuote(claims.subject), "}");
  const std::string input =
      absl::StrCat(jose::B64(header), ".", jose::B64(payload));
  ASSIGN_OR_RETURN(std::string sig, jose::SignRaw(key, *curve, input));
  return absl::StrCat(input, ".", jose::B64(sig));
}

absl::StatusOr<std::unique_ptr<StepCa>> StepCa::Create(
    const StepCaConfig& config, const identity::TrustDomain& td,
    const identity::Clock& clock, const HttpsClientOptions& options) {
  ASSIGN_OR_RETURN(HttpsUrl url, ParseHttpsUrl(config.url));
  ASSIGN_OR_RETURN(std::string roots_pem, identity::ReadFile(config.root_file));
  absl::StatusOr<std::unique_ptr<HttpsClient>> https =
      HttpsClient::Create(std::move(url), roots_pem, options, clock);
  if (!https.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.root_file, ": ", https.status().message()));
  }
  RETURN_IF_ERROR(identity::CheckTrustedFile(config.provisioner_key_file,
                                             /*private_file=*/true));
  ASSIGN_OR_RETURN(std::string key_pem,
                   identity::ReadFile(config.provisioner_key_file));
  absl::StatusOr<identity::UniqueEvpPkey> key =
      identity::PrivateKeyFromPem(key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.provisioner_key_file, ": ", key.status().message()));
  }
  absl::StatusOr<std::string> kid = JwkThumbprint(**key);
  if (!kid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        config.provisioner_key_file, ": ", kid.status().message()));
  }
  return std::unique_ptr<StepCa>(new StepCa(
      config, td, *std::move(https), *std::move(key), *std::move(kid), clock));
}

std::string StepCa::Name() const {
  return absl::StrCat("step-ca ", https_->url().Origin());
}

absl::StatusOr<UpstreamChain> StepCa::SignIntermediate(
    absl::string_view csr_der, absl::Duration ttl) {
  auto fail = [this](absl::StatusCode code, absl::string_view why) {
    return absl::Status(code, absl::StrCat(Name(), ": ", why));
  };
  StepCaTokenClaims claims;
  claims.issuer = config_.provisioner;
  claims.audience = absl::StrCat(https_->url().Origin(), kStepCaSignPath);
  claims.subject = td_.IdString();
  claims.sans = {td_.IdString()};
  claims.issued_at = clock_.Now();
  ASSIGN_OR_RETURN(claims.jwt_id, RandomHex(kJwtIdBytes));
  ASSIGN_OR_RETURN(std::string ott, MintStepCaToken(claims, *key_, kid_));
  const std::string body = absl::StrCat(
      "{\"csr\":", JsonQuote(CsrDerToPem(csr_der)), ",\"ott\":", JsonQuote(ott),
      ",\"notAfter\":\"", absl::ToInt64Seconds(ttl), "s\"}");

  absl::StatusOr<HttpsResponse> signed_resp =
      https_->Do("POST", kStepCaSignPath, body);
  if (!signed_resp.ok()) {
    return fail(signed_resp.status().code(), signed_resp.status().message());
  }
  if (signed_resp->status == 401 || signed_resp->status == 403) {
    return fail(
        absl::StatusCode::kPermissionDenied,
        absl::StrCat("refused the intermediate (HTTP ", signed_resp->status,
                     "): ", ErrorDetail(*signed_resp),
                     signed_resp->status == 401
                         ? " (check signing.upstream.step_ca.provisioner "
                           "and provisioner_key_file)"
                         : ""));
  }
  if (signed_resp->status != 200 && signed_resp->status != 201) {
    return fail(
        absl::StatusCode::kUnavailable,
        absl::StrCat("POST ", kStepCaSignPath, ": HTTP ", signed_resp->status,
                     ": ", ErrorDetail(*signed_resp)));
  }
  absl::StatusOr<Struct> sign_json = jose::ParseJsonObject(
      signed_resp->body, "the sign response", kResponseJsonLimits);
  if (!sign_json.ok()) {
    return fail(absl::StatusCode::kInvalidArgument,
                sign_json.status().message());
  }
  absl::StatusOr<identity::CertChain> chain =
      PemList(*sign_json, "certChain", "the sign response");
  if (!chain.ok()) {
    return fail(absl::StatusCode::kInvalidArgument, chain.status().message());
  }

  absl::StatusOr<HttpsResponse> roots_resp =
      https_->Do("GET", kStepCaRootsPath, "");
  if (!roots_resp.ok()) {
    return fail(roots_resp.status().code(), roots_resp.status().message());
  }
  if (roots_resp->status != 200 && roots_resp->status != 201) {
    return fail(
        absl::StatusCode::kUnavailable,
        absl::StrCat("GET ", kStepCaRootsPath, ": HTTP ", roots_resp->status,
                     ": ", ErrorDetail(*roots_resp)));
  }
  absl::StatusOr<Struct> roots_json = jose::ParseJsonObject(
      roots_resp->body, "the roots response", kResponseJsonLimits);
  if (!roots_json.ok()) {
    return fail(absl::StatusCode::kInvalidArgument,
                roots_json.status().message());
  }
  absl::StatusOr<identity::CertChain> roots =
      PemList(*roots_json, "crts", "the roots response");
  if (!roots.ok()) {
    return fail(absl::StatusCode::kInvalidArgument, roots.status().message());
  }

  UpstreamChain out;
  // step-ca that signs with its root lists the root in certChain: the chain
  // below the root leaves it out.
  for (identity::UniqueX509& c : *chain) {
    if (X509_check_issued(c.get(), c.get()) == X509_V_OK) continue;
    out.chain.push_back(std::move(c));
  }
  out.roots = *std::move(roots);
  if (out.chain.empty()) {
    return fail(absl::StatusCode::kInvalidArgument,
                "the sign response holds no certificate below a root");
  }
  return out;
}

}  // namespace mayfly::server::upstream
