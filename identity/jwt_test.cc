// JWT-SVIDs: the exact header and claims minted, one case per validation
// rule of the JWT-SVID spec, and the JWK set round trip. The bounds against
// hostile tokens are in jwt_bounds_test.cc.
#include "identity/jwt.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/jwt_fixture.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_jwt::B64;
using testing_jwt::JwtTest;
using testing_jwt::kId;
using testing_jwt::Unb64;

TEST_F(JwtTest, MintsExactHeaderAndClaims) {
  const std::string token = Mint({"kafka"});
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Unb64(parts[0]), absl::StrCat(R"({"alg":"ES256","kid":")",
                                          key_.key_id, R"(","typ":"JWT"})"));
  EXPECT_EQ(
      Unb64(parts[1]),
      absl::StrCat(R"({"sub":")", kId,
                   R"(","aud":"kafka","exp":1800000300,"iat":1800000000})"));
  // P-256 r||s.
  EXPECT_EQ(Unb64(parts[2]).size(), 64u);
}

TEST_F(JwtTest, RoundTrip) {
  auto claims = Validate(Mint({"kafka"}), "kafka");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->id.ToString(), kId);
  EXPECT_THAT(claims->audience, ElementsAre("kafka"));
  EXPECT_EQ(claims->expiry, absl::FromUnixSeconds(1800000300));
  EXPECT_EQ(claims->claims.fields().at("sub").string_value(), kId);
}

TEST_F(JwtTest, SeveralAudiencesOneMatching) {
  auto claims = Validate(Mint({"a", "b"}), "b");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_THAT(claims->audience, ElementsAre("a", "b"));
}

TEST_F(JwtTest, TtlIsCappedAtFiveMinutes) {
  auto claims = Validate(Mint({"a"}, absl::Hours(1)), "a");
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->expiry, clock_.Now() + kMaxJwtSvidTtl);
}

TEST_F(JwtTest, MintRefusesNoAudience) {
  EXPECT_THAT(
      MintJwtSvid(JwtSvidRequest{*SpiffeId::FromString(kId), {}}, key_, clock_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audience")));
  EXPECT_THAT(MintJwtSvid(JwtSvidRequest{*SpiffeId::FromString(kId), {""}},
                          key_, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty audience")));
}

TEST_F(JwtTest, ExpiredAtExactlyExp) {
  const std::string token = Mint({"a"});
  clock_.Advance(absl::Minutes(5) - absl::Seconds(1));
  EXPECT_TRUE(Validate(token, "a").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(Validate(token, "a"), StatusIs(absl::StatusCode::kUnauthenticated,
                                             HasSubstr("expired")));
}

TEST_F(JwtTest, WrongAudience) {
  EXPECT_THAT(Validate(Mint({"a"}), "b"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("audience \"b\"")));
}

TEST_F(JwtTest, TamperedPayloadOrSignature) {
  std::vector<std::string> parts = absl::StrSplit(Mint({"a"}), '.');
  std::string claims = Unb64(parts[1]);
  claims.replace(claims.find(kId), strlen(kId), "spiffe://example.org/evil");
  EXPECT_THAT(
      Validate(absl::StrCat(parts[0], ".", B64(claims), ".", parts[2]), "a"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  std::string sig = Unb64(parts[2]);
  sig[10] ^= 1;
  EXPECT_THAT(
      Validate(absl::StrCat(parts[0], ".", parts[1], ".", B64(sig)), "a"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
  EXPECT_THAT(
      Validate(
          absl::StrCat(parts[0], ".", parts[1], ".", B64(sig.substr(0, 63))),
          "a"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST_F(JwtTest, UnknownKeyAndUnknownTrustDomain) {
  JwtSigningKey other = *GenerateJwtSigningKey();
  auto token = MintJwtSvid(JwtSvidRequest{*SpiffeId::FromString(kId), {"a"}},
                           other, clock_);
  EXPECT_THAT(
      Validate(*token, "a"),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr(absl::StrCat("no key \"", other.key_id,
                                      "\" in any trusted JWT bundle"))));
  auto foreign = MintJwtSvid(
      JwtSvidRequest{*SpiffeId::FromString("spiffe://other.org/x"), {"a"}},
      key_, clock_);
  EXPECT_THAT(
      Validate(*foreign, "a"),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("no JWT bundle for trust domain \"other.org\"")));
}

TEST_F(JwtTest, HeaderRules) {
  const std::string claims =
      R"({"sub":"spiffe://example.org/web","aud":"a","exp":1900000000})";
  EXPECT_THAT(
      Validate(Craft(R"({"alg":"none","kid":"k"})", claims), "a"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("alg \"none\"")));
  EXPECT_THAT(
      Validate(Craft(R"({"alg":"HS256","kid":"k"})", claims), "a"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("alg \"HS256\"")));
  EXPECT_THAT(Validate(Craft(R"({"alg":"ES256"})", claims), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kid")));
  EXPECT_THAT(
      Validate(Craft(R"({"alg":"ES256","kid":"k","typ":"XYZ"})", claims), "a"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("typ \"XYZ\"")));
}

TEST_F(JwtTest, ClaimRules) {
  // Signed, so that the claims are what is refused.
  EXPECT_THAT(Validate(Sign(R"({"aud":"a","exp":1900000000})"), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("claims have no sub")));
  EXPECT_THAT(Validate(Sign(R"({"sub":"https://x","aud":"a","exp":1})"), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sub: ")));
  EXPECT_THAT(
      Validate(Sign(R"({"sub":"spiffe://example.org/w","aud":"a"})"), "a"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("claims have no numeric exp")));
  EXPECT_THAT(
      Validate(Sign(R"({"sub":"spiffe://example.org/w","exp":1900000000})"),
               "a"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("claims have no aud")));
  EXPECT_THAT(Validate(Sign(R"({"sub":"spiffe://example.org/w","aud":"a",)"
                            R"("exp":1e300})"),
                       "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("exp is not a time")));
}

TEST_F(JwtTest, FramingRules) {
  EXPECT_THAT(Validate("a.b", "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("three base64url parts")));
  EXPECT_THAT(Validate("a.b.c.d", "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("three base64url parts")));
  EXPECT_THAT(Validate("e30=.e30.c2ln", "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header is not unpadded base64url")));
  EXPECT_THAT(Validate(absl::StrCat(B64("[1]"), ".e30.c2ln"), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header is not a JSON object")));
}

// A key trusted for one trust domain cannot sign for another, even when the
// validator trusts both.
TEST_F(JwtTest, KeySignsOnlyForItsOwnTrustDomain) {
  const TrustDomain other_td = *TrustDomain::FromString("other.org");
  JwtSigningKey other_key = *GenerateJwtSigningKey();
  JwtBundle other(other_td);
  other.AddKey(other_key.key_id, *other_key.key);
  const JwtBundle* bundles[] = {&bundle_, &other};
  auto forged = MintJwtSvid(
      JwtSvidRequest{*SpiffeId::FromString("spiffe://other.org/x"), {"a"}},
      key_, clock_);
  EXPECT_THAT(ValidateJwtSvid(*forged, "a", bundles, clock_),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr(absl::StrCat(
                           "key \"", key_.key_id,
                           "\" is not in the JWT bundle of trust domain "
                           "\"other.org\""))));
  auto genuine = MintJwtSvid(
      JwtSvidRequest{*SpiffeId::FromString("spiffe://other.org/x"), {"a"}},
      other_key, clock_);
  auto claims = ValidateJwtSvid(*genuine, "a", bundles, clock_);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->id.ToString(), "spiffe://other.org/x");
}

TEST_F(JwtTest, JwksRoundTrip) {
  auto jwks = bundle_.ToJwks();
  ASSERT_TRUE(jwks.ok()) << jwks.status();
  EXPECT_THAT(*jwks, HasSubstr(R"("use":"jwt-svid")"));
  EXPECT_THAT(*jwks, HasSubstr(R"("crv":"P-256")"));
  EXPECT_THAT(*jwks, HasSubstr(absl::StrCat(R"("kid":")", key_.key_id, "\"")));
  auto parsed = JwtBundle::FromJwks(td_, *jwks);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  const std::string token = Mint({"a"});
  const JwtBundle* bundles[] = {&*parsed};
  auto claims = ValidateJwtSvid(token, "a", bundles, clock_);
  EXPECT_TRUE(claims.ok()) << claims.status();
}

TEST_F(JwtTest, JwksErrorsNameTheKey) {
  EXPECT_THAT(JwtBundle::FromJwks(td_, R"({"keys":[{"kty":"EC"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keys[0].kid is missing")));
  EXPECT_THAT(
      JwtBundle::FromJwks(
          td_,
          R"({"keys":[{"use":"x509-svid"},{"kty":"RSA","kid":"k","crv":"c","x":"x","y":"y"}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("keys[1].kty \"RSA\"")));
  EXPECT_THAT(
      JwtBundle::FromJwks(
          td_,
          R"({"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AAAA","y":"AAAA"}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("keys[0].x/.y must be 32 bytes")));
  EXPECT_THAT(
      JwtBundle::FromJwks(
          td_,
          R"({"keys":[{"kty":"EC","kid":"k","crv":"P-521","x":"AAAA","y":"AAAA"}]})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("keys[0].crv \"P-521\" is not supported")));
  const std::string zero = B64(std::string(32, '\x01'));
  EXPECT_THAT(
      JwtBundle::FromJwks(
          td_,
          absl::StrCat(R"({"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":")",
                       zero, R"(","y":")", zero, R"("}]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("not a point on P-256")));
  // x509-svid keys are skipped, not errors.
  auto only_x509 =
      JwtBundle::FromJwks(td_, R"({"keys":[{"use":"x509-svid"}]})");
  ASSERT_TRUE(only_x509.ok());
  EXPECT_EQ(only_x509->size(), 0u);
}

TEST_F(JwtTest, KeyIdIsStableForAKey) {
  auto again = JwtSigningKeyFromKey(UniqueEvpPkey([&] {
    EVP_PKEY_up_ref(key_.key.get());
    return key_.key.get();
  }()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key_id, key_.key_id);
  EXPECT_EQ(key_.key_id.size(), 22u);  // 16 bytes, unpadded base64url
}

}  // namespace
}  // namespace mayfly::identity
