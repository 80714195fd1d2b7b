// A JWT-SVID test fixture: a trust domain with one signing key and its
// bundle, a fake clock, and helpers to mint, craft and sign tokens.
#ifndef MAYFLY_IDENTITY_TESTING_JWT_FIXTURE_H_
#define MAYFLY_IDENTITY_TESTING_JWT_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/internal/jose.h"
#include "identity/jwt.h"

namespace mayfly::identity::testing_jwt {

inline constexpr char kId[] = "spiffe://example.org/web";

inline std::string B64(absl::string_view s) {
  std::string out;
  absl::WebSafeBase64Escape(s, &out);
  return out;
}
inline std::string Unb64(absl::string_view s) {
  std::string out;
  absl::WebSafeBase64Unescape(s, &out);
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : td_(*TrustDomain::FromString("example.org")), bundle_(td_) {
    key_ = *GenerateJwtSigningKey();
    bundle_.AddKey(key_.key_id, *key_.key);
  }

  std::string Mint(std::vector<std::string> audience,
                   absl::Duration ttl = absl::Minutes(5)) {
    auto token = MintJwtSvid(
        JwtSvidRequest{*SpiffeId::FromString(kId), std::move(audience), ttl},
        key_, clock_);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : "";
  }

  absl::StatusOr<JwtSvidClaims> Validate(absl::string_view token,
                                         absl::string_view audience) {
    const JwtBundle* bundles[] = {&bundle_};
    return ValidateJwtSvid(token, audience, bundles, clock_);
  }

  // A token with the given header and claims JSON and a signature that
  // does not matter (rules checked before the signature).
  static std::string Craft(absl::string_view header, absl::string_view claims) {
    return absl::StrCat(B64(header), ".", B64(claims), ".", B64("sig"));
  }

  // The header MintJwtSvid writes, naming key_.
  std::string Header() const {
    return absl::StrCat(R"({"alg":"ES256","kid":")", key_.key_id, R"("})");
  }

  // Header() and `claims`, signed by key_: what a holder of the trust
  // domain's key could write.
  std::string Sign(absl::string_view claims) {
    const std::string input = absl::StrCat(B64(Header()), ".", B64(claims));
    auto sig = internal::SignRaw(*key_.key, internal::kCurves[0], input);
    EXPECT_TRUE(sig.ok()) << sig.status();
    return absl::StrCat(input, ".", B64(sig.ok() ? *sig : ""));
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  TrustDomain td_;
  JwtSigningKey key_;
  JwtBundle bundle_;
};

}  // namespace mayfly::identity::testing_jwt

#endif  // MAYFLY_IDENTITY_TESTING_JWT_FIXTURE_H_
