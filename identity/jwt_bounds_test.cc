// JWT-SVID validation against hostile tokens (issue 8, item 5): the size
// cap before decoding, the header bound, the signature checked over the raw
// bytes before the claims are parsed, and the nesting bound on the claims.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/jwt.h"
#include "identity/testing/jwt_fixture.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;
using testing_jwt::B64;
using testing_jwt::JwtTest;

// The size bound comes before anything is decoded: an oversized token of
// bytes that are not even base64url is refused for its size.
TEST_F(JwtTest, OversizedTokenRefusedBeforeDecoding) {
  EXPECT_THAT(Validate(std::string(kMaxJwtSvidBytes + 1, '!'), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("token is 8193 bytes; a JWT-SVID is at "
                                 "most 8192")));
  // A 64 KB payload (the size of the reported attack), validly signed.
  const std::string big = Sign(absl::StrCat(
      R"({"sub":"spiffe://example.org/w","aud":"a","exp":1900000000,"x":")",
      std::string(64 * 1024, 'x'), R"("})"));
  EXPECT_THAT(Validate(big, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a JWT-SVID is at most 8192")));
}

// The largest signed token under the limit validates; the next size up
// does not.
TEST_F(JwtTest, SizeLimitIsExact) {
  std::string fits;
  std::string over;
  for (size_t filler = 5000; filler < kMaxJwtSvidBytes && over.empty();
       ++filler) {
    std::string token = Sign(absl::StrCat(
        R"({"sub":"spiffe://example.org/w","aud":"a","exp":1900000000,"x":")",
        std::string(filler, 'x'), R"("})"));
    (token.size() <= kMaxJwtSvidBytes ? fits : over) = std::move(token);
  }
  ASSERT_GE(fits.size(), kMaxJwtSvidBytes - 3);  // base64 steps by 1-2
  EXPECT_TRUE(Validate(fits, "a").ok()) << Validate(fits, "a").status();
  EXPECT_THAT(Validate(over, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a JWT-SVID is at most 8192")));
}

std::string Nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST_F(JwtTest, NestingLimitOnSignedClaims) {
  // The claims object is one level: kMaxJwtJsonDepth - 1 arrays inside fit.
  const auto claims = [](int arrays) {
    return absl::StrCat(
        R"({"sub":"spiffe://example.org/w","aud":"a","exp":1900000000,"x":)",
        Nested(arrays), "}");
  };
  auto ok = Validate(Sign(claims(kMaxJwtJsonDepth - 1)), "a");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->claims.fields().at("x").list_value().values_size(), 1);
  EXPECT_THAT(Validate(Sign(claims(kMaxJwtJsonDepth)), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("payload nests arrays and objects deeper "
                                 "than 16")));
}

TEST_F(JwtTest, HeaderBounds) {
  const std::string padded =
      absl::StrCat(R"({"alg":"ES256","kid":"k","x":")",
                   std::string(kMaxJwsHeaderBytes - 32, 'x'), R"("})");
  ASSERT_EQ(padded.size(), kMaxJwsHeaderBytes);
  EXPECT_THAT(
      Validate(Craft(padded, "{}"), "a"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no key \"k\"")));
  EXPECT_THAT(
      Validate(Craft(absl::StrCat(padded, " "), "{}"), "a"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("header is 1025 bytes; at most 1024 are accepted")));
  EXPECT_THAT(
      Validate(Craft(absl::StrCat(R"({"alg":"ES256","kid":"k","x":)",
                                  Nested(kMaxJwtJsonDepth), "}"),
                     "{}"),
               "a"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("header nests arrays and objects deeper than 16")));
}

// The signature is checked over the raw bytes before the payload is parsed:
// a payload the parser would refuse (far too deep; protobuf's parser takes
// time quadratic in such depth) under a valid header and a bad signature is
// refused for the signature.
TEST_F(JwtTest, SignatureCheckedBeforePayloadIsParsed) {
  // An object, as claims are, holding 2990 arrays: under the size cap.
  const std::string deep = absl::StrCat(R"({"x":)", Nested(2990), "}");
  const std::string token =
      absl::StrCat(B64(Header()), ".", B64(deep), ".", B64(std::string(64, 1)));
  ASSERT_LE(token.size(), kMaxJwtSvidBytes);
  EXPECT_THAT(Validate(token, "a"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("signature does not verify")));
  // Not even base64url: still the signature first.
  EXPECT_THAT(Validate(absl::StrCat(B64(Header()), ".!!!.", B64("sig")), "a"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("signature does not verify")));
  // Signed, the same payload reaches the parser and its bound.
  EXPECT_THAT(Validate(Sign(deep), "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("payload nests arrays and objects deeper "
                                 "than 16")));
}

}  // namespace
}  // namespace mayfly::identity
