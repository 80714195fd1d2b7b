// Tests of SpiffeIdPattern: single-segment `*`, trailing `**`, and the ID
// rules that still apply outside the wildcards.
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/spiffe_id.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::InvalidWith;
using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

// Parses both sides, failing the test (and returning false) if either does
// not parse, so that a typo cannot turn a positive case into a negative one.
bool Matches(absl::string_view pattern, absl::string_view id) {
  absl::StatusOr<SpiffeIdPattern> p = SpiffeIdPattern::FromString(pattern);
  absl::StatusOr<SpiffeId> i = SpiffeId::FromString(id);
  if (!p.ok() || !i.ok()) {
    ADD_FAILURE() << pattern << ": " << p.status() << "; " << id << ": "
                  << i.status();
    return false;
  }
  return p->Matches(*i);
}

TEST(SpiffeIdPatternTest, ExactPatternMatchesOnlyItself) {
  const absl::string_view p = "spiffe://example.org/ns/prod";
  EXPECT_TRUE(Matches(p, "spiffe://example.org/ns/prod"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/production"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/prod/x"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/NS/prod"));
  EXPECT_TRUE(Matches("spiffe://example.org", "spiffe://example.org"));
  EXPECT_FALSE(Matches("spiffe://example.org", "spiffe://example.org/a"));
}

TEST(SpiffeIdPatternTest, SingleStarMatchesExactlyOneSegment) {
  const absl::string_view p = "spiffe://example.org/ns/*/sa/web";
  EXPECT_TRUE(Matches(p, "spiffe://example.org/ns/prod/sa/web"));
  EXPECT_TRUE(Matches(p, "spiffe://example.org/ns/x/sa/web"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/sa/web"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/a/b/sa/web"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/prod/sa/db"));
  EXPECT_TRUE(Matches("spiffe://example.org/*", "spiffe://example.org/a"));
  EXPECT_FALSE(Matches("spiffe://example.org/*", "spiffe://example.org"));
  EXPECT_FALSE(Matches("spiffe://example.org/*", "spiffe://example.org/a/b"));
}

TEST(SpiffeIdPatternTest, TrailingDoubleStarMatchesOneOrMoreSegments) {
  const absl::string_view p = "spiffe://example.org/ns/prod/**";
  EXPECT_TRUE(Matches(p, "spiffe://example.org/ns/prod/a"));
  EXPECT_TRUE(Matches(p, "spiffe://example.org/ns/prod/a/b/c"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/prod"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/production/a"));
  EXPECT_FALSE(Matches(p, "spiffe://example.org/ns/dev/a"));
  const absl::string_view all = "spiffe://example.org/**";
  EXPECT_TRUE(Matches(all, "spiffe://example.org/a"));
  EXPECT_TRUE(Matches(all, "spiffe://example.org/a/b/c"));
  EXPECT_FALSE(Matches(all, "spiffe://example.org"));
  EXPECT_TRUE(Matches("spiffe://e/*/**", "spiffe://e/a/b"));
  EXPECT_FALSE(Matches("spiffe://e/*/**", "spiffe://e/a"));
}

TEST(SpiffeIdPatternTest, OtherTrustDomainsNeverMatch) {
  EXPECT_FALSE(Matches("spiffe://example.org/**", "spiffe://example.com/a"));
  EXPECT_FALSE(
      Matches("spiffe://example.org/**", "spiffe://example.org.evil/a"));
  EXPECT_FALSE(Matches("spiffe://example.org/**", "spiffe://xexample.org/a"));
  EXPECT_FALSE(Matches("spiffe://example.org", "spiffe://example.org2"));
}

TEST(SpiffeIdPatternTest, RejectsDoubleStarBeforeTheLastSegment) {
  for (absl::string_view s :
       {"spiffe://example.org/**/web", "spiffe://example.org/a/**/b",
        "spiffe://example.org/**/**"}) {
    EXPECT_THAT(SpiffeIdPattern::FromString(s),
                InvalidWith("\"**\" may only be the last segment"))
        << s;
  }
}

TEST(SpiffeIdPatternTest, RejectsPartialSegmentWildcards) {
  for (absl::string_view s :
       {"spiffe://example.org/web-*", "spiffe://example.org/*web",
        "spiffe://example.org/a*b", "spiffe://example.org/***",
        "spiffe://example.org/ns/**x"}) {
    EXPECT_THAT(SpiffeIdPattern::FromString(s),
                InvalidWith("pattern wildcards must be a whole segment"))
        << s;
  }
}

TEST(SpiffeIdPatternTest, FollowsIdRulesOutsideWildcards) {
  using P = SpiffeIdPattern;
  EXPECT_THAT(P::FromString(""), InvalidWith("cannot be empty"));
  EXPECT_THAT(P::FromString("SPIFFE://e/*"), InvalidWith("scheme"));
  EXPECT_THAT(P::FromString("spiffe://*/a"),
              InvalidWith("trust domain characters are limited"));
  EXPECT_THAT(P::FromString("spiffe://E/a"),
              InvalidWith("trust domain characters are limited"));
  EXPECT_THAT(P::FromString("spiffe://e:1/*"), InvalidWith("port"));
  EXPECT_THAT(P::FromString("spiffe://e/*/"), InvalidWith("trailing slash"));
  EXPECT_THAT(P::FromString("spiffe://e//*"), InvalidWith("empty segments"));
  EXPECT_THAT(P::FromString("spiffe://e/../*"), InvalidWith("dot segments"));
  EXPECT_THAT(P::FromString("spiffe://e/%2A"), InvalidWith("percent"));
  EXPECT_THAT(P::FromString("spiffe://e/*?x"), InvalidWith("query"));
  EXPECT_THAT(P::FromString("spiffe://e/" + std::string(2048, 'a')),
              InvalidWith("too long"));
}

TEST(SpiffeIdPatternTest, Accessors) {
  absl::StatusOr<SpiffeIdPattern> p =
      SpiffeIdPattern::FromString("spiffe://example.org/ns/*/sa/**");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->trust_domain().name(), "example.org");
  EXPECT_EQ(p->ToString(), "spiffe://example.org/ns/*/sa/**");
  EXPECT_EQ(testing::PrintToString(*p), "spiffe://example.org/ns/*/sa/**");
}

}  // namespace
}  // namespace mayfly::identity
