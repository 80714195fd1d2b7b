// Tests for SPIFFE ID, trust domain and pattern parsing: one case per rule of
// SPIFFE-ID.md (valid and invalid), exact boundaries, and exhaustive
// character sets.
#include "identity/spiffe_id.h"

#include <sstream>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::InvalidWith;
using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool IsTrustDomainByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool IsPathByte(char c) {
  return IsTrustDomainByte(c) || (c >= 'A' && c <= 'Z');
}

TEST(SpiffeIdTest, ParsesIdWithoutPath) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString("spiffe://example.org");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain().name(), "example.org");
  EXPECT_EQ(id->path(), "");
  EXPECT_THAT(id->segments(), IsEmpty());
  EXPECT_EQ(id->ToString(), "spiffe://example.org");
}

TEST(SpiffeIdTest, ParsesIdWithPath) {
  absl::StatusOr<SpiffeId> id =
      SpiffeId::FromString("spiffe://k8s-west.example_1.org/ns/prod/sa/web");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->trust_domain().name(), "k8s-west.example_1.org");
  EXPECT_EQ(id->path(), "/ns/prod/sa/web");
  EXPECT_THAT(id->segments(), ElementsAre("ns", "prod", "sa", "web"));
  EXPECT_EQ(id->ToString(), "spiffe://k8s-west.example_1.org/ns/prod/sa/web");
}

TEST(SpiffeIdTest, PathSegmentsMayUseBothCasesAndDotsThatAreNotDotSegments) {
  absl::StatusOr<SpiffeId> id =
      SpiffeId::FromString("spiffe://example.org/Web-FE_2/.a/a./.../9");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(id->segments(), ElementsAre("Web-FE_2", ".a", "a.", "...", "9"));
}

TEST(SpiffeIdTest, RejectsEmpty) {
  EXPECT_THAT(SpiffeId::FromString(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "SPIFFE ID cannot be empty: \"\""));
}

TEST(SpiffeIdTest, RejectsMissingOrWrongScheme) {
  for (absl::string_view s :
       {"example.org", "/ns/prod", "http://example.org", "SPIFFE://example.org",
        "Spiffe://example.org", "spiffe:/example.org", "spiffe:example.org",
        "spiffe//example.org", " spiffe://example.org"}) {
    EXPECT_THAT(SpiffeId::FromString(s), InvalidWith("scheme is missing")) << s;
  }
}

TEST(SpiffeIdTest, RejectsMissingTrustDomain) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://"),
              InvalidWith("trust domain is missing: \"spiffe://\""));
  EXPECT_THAT(SpiffeId::FromString("spiffe:///ns/prod"),
              InvalidWith("trust domain is missing"));
}

TEST(SpiffeIdTest, RejectsUppercaseTrustDomainWithoutNormalising) {
  EXPECT_THAT(
      SpiffeId::FromString("spiffe://Example.org"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "trust domain characters are limited to lowercase letters, "
               "numbers, dots, dashes, and underscores: "
               "\"spiffe://Example.org\""));
}

TEST(SpiffeIdTest, TrustDomainAcceptsExactlyTheAllowedBytes) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string bare = std::string("a") + c + "b";
    EXPECT_EQ(TrustDomain::FromString(bare).ok(), IsTrustDomainByte(c))
        << "byte " << b;
    // In an ID a '/' ends the trust domain and starts a (valid) path.
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString("spiffe://" + bare);
    EXPECT_EQ(id.ok(), IsTrustDomainByte(c) || c == '/') << "byte " << b;
    if (id.ok() && c != '/') {
      EXPECT_EQ(id->trust_domain().name(), bare);
    }
  }
}

TEST(SpiffeIdTest, TrustDomainLengthLimitIsExact) {
  const std::string max(kMaxTrustDomainLength, 'a');
  EXPECT_EQ(kMaxTrustDomainLength, 255u);
  EXPECT_TRUE(TrustDomain::FromString(max).ok());
  EXPECT_TRUE(SpiffeId::FromString("spiffe://" + max + "/x").ok());
  EXPECT_THAT(TrustDomain::FromString(max + "a"),
              InvalidWith("trust domain is too long"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://" + max + "a/x"),
              InvalidWith("trust domain is too long"));
}

TEST(SpiffeIdTest, RejectsPort) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org:8080/ns"),
              InvalidWith("trust domain cannot have a port"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org:"),
              InvalidWith("trust domain cannot have a port"));
  EXPECT_THAT(TrustDomain::FromString("example.org:443"),
              InvalidWith("trust domain cannot have a port"));
}

TEST(SpiffeIdTest, RejectsUserinfo) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://user@example.org"),
              InvalidWith("trust domain cannot have userinfo"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://user:pass@example.org/a"),
              InvalidWith("trust domain cannot have userinfo"));
  EXPECT_THAT(TrustDomain::FromString("user@example.org"),
              InvalidWith("trust domain cannot have userinfo"));
}

TEST(SpiffeIdTest, RejectsEmptySegment) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org//a"),
              InvalidWith("path cannot contain empty segments"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/a//b"),
              InvalidWith("path cannot contain empty segments"));
}

TEST(SpiffeIdTest, RejectsTrailingSlash) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/"),
              InvalidWith("path cannot have a trailing slash"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/a/b/"),
              InvalidWith("path cannot have a trailing slash"));
}

TEST(SpiffeIdTest, RejectsDotSegments) {
  for (absl::string_view s :
       {"spiffe://example.org/.", "spiffe://example.org/..",
        "spiffe://example.org/a/./b", "spiffe://example.org/a/../b",
        "spiffe://example.org/a/.."}) {
    EXPECT_THAT(SpiffeId::FromString(s),
                InvalidWith("path cannot contain dot segments"))
        << s;
  }
}

TEST(SpiffeIdTest, PathAcceptsExactlyTheAllowedBytes) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    // Mid-segment: '/' merely splits "/a/b", which is valid too.
    const std::string mid = std::string("spiffe://example.org/a") + c + "b";
    EXPECT_EQ(SpiffeId::FromString(mid).ok(), IsPathByte(c) || c == '/')
        << "byte " << b;
    // A whole segment: "." is a dot segment and "/" leaves an empty one.
    const std::string whole = std::string("spiffe://example.org/x/") + c;
    EXPECT_EQ(SpiffeId::FromString(whole).ok(), IsPathByte(c) && c != '.')
        << "byte " << b;
  }
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/a b"),
              InvalidWith("path segment characters are limited to letters, "
                          "numbers, dots, dashes, and underscores"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/caf\xc3\xa9"),
              InvalidWith("path segment characters are limited"));
}

TEST(SpiffeIdTest, RejectsPercentEncoding) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://ex%61mple.org"),
              InvalidWith("percent-encoded characters are not allowed"));
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/a%20b"),
              InvalidWith("percent-encoded characters are not allowed"));
}

TEST(SpiffeIdTest, RejectsQueryAndFragment) {
  for (absl::string_view s :
       {"spiffe://example.org?a=b", "spiffe://example.org#frag",
        "spiffe://example.org/a?b", "spiffe://example.org/a#b",
        "spiffe://example.org/a/?"}) {
    EXPECT_THAT(SpiffeId::FromString(s),
                InvalidWith("SPIFFE ID cannot have a query or fragment"))
        << s;
  }
}

TEST(SpiffeIdTest, IdLengthLimitIsExact) {
  EXPECT_EQ(kMaxSpiffeIdLength, 2048u);
  const std::string prefix = "spiffe://example.org/";
  const std::string max =
      prefix + std::string(kMaxSpiffeIdLength - prefix.size(), 'a');
  ASSERT_EQ(max.size(), 2048u);
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(max);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), max);
  absl::StatusOr<SpiffeId> too_long = SpiffeId::FromString(max + "a");
  EXPECT_THAT(too_long, InvalidWith("SPIFFE ID is too long"));
  // The quoted input is cut short rather than repeated in full.
  EXPECT_THAT(too_long, InvalidWith("aaa...\" (2049 bytes)"));
  EXPECT_LT(too_long.status().message().size(), 300u);
}

TEST(SpiffeIdTest, ErrorMessagesEscapeTheQuotedInput) {
  EXPECT_THAT(SpiffeId::FromString("spiffe://example.org/a\n\"b"),
              InvalidWith("\"spiffe://example.org/a\\n\\\"b\""));
}

TEST(SpiffeIdTest, CanonicalStringRoundTrips) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString("spiffe://td/A/b-c/d_e");
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<SpiffeId> again = SpiffeId::FromString(id->ToString());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(testing::PrintToString(*id), "spiffe://td/A/b-c/d_e");
}

TEST(TrustDomainTest, FromBareName) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("example.org");
  ASSERT_TRUE(td.ok()) << td.status();
  EXPECT_EQ(td->name(), "example.org");
  EXPECT_EQ(td->IdString(), "spiffe://example.org");
}

TEST(TrustDomainTest, FromIdStringIgnoresValidPath) {
  for (absl::string_view s :
       {"spiffe://example.org", "spiffe://example.org/ns/prod"}) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(s);
    ASSERT_TRUE(td.ok()) << s << ": " << td.status();
    EXPECT_EQ(td->name(), "example.org");
  }
  EXPECT_THAT(TrustDomain::FromString("spiffe://example.org/a//b"),
              InvalidWith("path cannot contain empty segments"));
}

TEST(TrustDomainTest, FromStringRejects) {
  EXPECT_THAT(TrustDomain::FromString(""),
              InvalidWith("trust domain is missing"));
  EXPECT_THAT(TrustDomain::FromString("spiffe://"),
              InvalidWith("trust domain is missing"));
  EXPECT_THAT(TrustDomain::FromString("SPIFFE://example.org"),
              InvalidWith("scheme is missing"));
  EXPECT_THAT(TrustDomain::FromString("https://example.org"),
              InvalidWith("scheme is missing"));
  EXPECT_THAT(TrustDomain::FromString("Example.org"),
              InvalidWith("trust domain characters are limited"));
  EXPECT_THAT(TrustDomain::FromString("example.org/ns"),
              InvalidWith("trust domain characters are limited"));
}

TEST(TrustDomainTest, EqualityOrderingAndHash) {
  absl::StatusOr<TrustDomain> a = TrustDomain::FromString("a.org");
  absl::StatusOr<TrustDomain> a2 = TrustDomain::FromString("spiffe://a.org/x");
  absl::StatusOr<TrustDomain> b = TrustDomain::FromString("b.org");
  ASSERT_TRUE(a.ok() && a2.ok() && b.ok());
  EXPECT_TRUE(*a == *a2);
  EXPECT_FALSE(*a != *a2);
  EXPECT_TRUE(*a != *b);
  EXPECT_TRUE(*a < *b);
  EXPECT_FALSE(*b < *a);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({*a, *a2, *b}));
  EXPECT_EQ(absl::flat_hash_set<TrustDomain>({*a, *a2, *b}).size(), 2u);
}

TEST(SpiffeIdTest, FromPartsBuildsTheSameIdAsFromString) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("example.org");
  ASSERT_TRUE(td.ok());
  absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(*td, "/ns/prod/sa/web");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/ns/prod/sa/web");
  EXPECT_EQ(*id, *SpiffeId::FromString("spiffe://example.org/ns/prod/sa/web"));
  absl::StatusOr<SpiffeId> root = SpiffeId::FromParts(*td, "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->ToString(), "spiffe://example.org");
  EXPECT_EQ(root->path(), "");
}

TEST(SpiffeIdTest, FromPartsValidatesPathAndLength) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("example.org");
  ASSERT_TRUE(td.ok());
  EXPECT_THAT(SpiffeId::FromParts(*td, "ns/prod"),
              InvalidWith("path must be empty or start with '/': \"ns/prod\""));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/"), InvalidWith("trailing slash"));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/a//b"), InvalidWith("empty segm"));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/a/.."), InvalidWith("dot segments"));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/a%2F"), InvalidWith("percent"));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/a?b"), InvalidWith("query"));
  EXPECT_THAT(SpiffeId::FromParts(*td, "/a*"), InvalidWith("path segment"));
  // "spiffe://example.org" is 20 bytes.
  const std::string max_path = "/" + std::string(2048 - 20 - 1, 'p');
  EXPECT_TRUE(SpiffeId::FromParts(*td, max_path).ok());
  EXPECT_THAT(SpiffeId::FromParts(*td, max_path + "p"),
              InvalidWith("SPIFFE ID is too long"));
}

TEST(SpiffeIdTest, MemberOf) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString("spiffe://a.org/x");
  absl::StatusOr<TrustDomain> a = TrustDomain::FromString("a.org");
  absl::StatusOr<TrustDomain> longer = TrustDomain::FromString("a.org.evil");
  ASSERT_TRUE(id.ok() && a.ok() && longer.ok());
  EXPECT_TRUE(id->MemberOf(*a));
  EXPECT_FALSE(id->MemberOf(*longer));
}

TEST(SpiffeIdTest, EqualityOrderingAndHash) {
  std::vector<SpiffeId> ids;
  for (absl::string_view s : {"spiffe://a", "spiffe://a/x", "spiffe://a/x/y",
                              "spiffe://a.b", "spiffe://b/a"}) {
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
    ASSERT_TRUE(id.ok()) << s << ": " << id.status();
    ids.push_back(*id);
  }
  // Listed in order: by trust domain first ("a" < "a.b"), then by path.
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = 0; j < ids.size(); ++j) {
      EXPECT_EQ(ids[i] == ids[j], i == j) << i << " " << j;
      EXPECT_EQ(ids[i] != ids[j], i != j) << i << " " << j;
      EXPECT_EQ(ids[i] < ids[j], i < j) << i << " " << j;
    }
  }
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(ids));
  absl::flat_hash_set<SpiffeId> set(ids.begin(), ids.end());
  set.insert(*SpiffeId::FromString("spiffe://a/x"));
  EXPECT_EQ(set.size(), ids.size());
}

}  // namespace
}  // namespace mayfly::identity
