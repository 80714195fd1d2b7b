// Rule pieces: what a capture may be, which earlier pattern shadows which
// later one, and which principals a template can produce.
#include "bridge/policy_rule.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge::internal {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;

MATCHER_P(Invalid, message, "") {
  return ::testing::ExplainMatchResult(
      StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)), arg,
      result_listener);
}

RulePattern P(const std::string& text) {
  absl::StatusOr<RulePattern> p = RulePattern::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return *p;
}

TEST(RulePatternTest, CapturesByPosition) {
  RulePattern p = P("spiffe://t/ns/{ns}/x/*/sa/{sa}/**");
  EXPECT_THAT(p.CaptureNames(), ElementsAre("ns", "sa"));
  EXPECT_EQ(p.CaptureIndex("ns"), 1);
  EXPECT_EQ(p.CaptureIndex("sa"), 5);
  EXPECT_EQ(p.CaptureIndex("x"), -1);
  EXPECT_EQ(p.matcher().ToString(), "spiffe://t/ns/*/x/*/sa/*/**");
}

TEST(RulePatternTest, RefusesCapturesThatAreNotWholeSegments) {
  EXPECT_THAT(RulePattern::Parse("spiffe://t/ns-{x}"),
              Invalid("a capture must be a whole path segment, like "
                      "/{name}/: \"ns-{x}\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{x}y"),
              Invalid("a capture must be a whole path segment, like "
                      "/{name}/: \"{x}y\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{x"),
              Invalid("a capture must be a whole path segment, like "
                      "/{name}/: \"{x\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{{x}}"),
              Invalid("a capture must be a whole path segment, like "
                      "/{name}/: \"{{x}}\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{}"),
              Invalid("a capture name is letters, digits and '_': \"{}\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{a-b}"),
              Invalid("a capture name is letters, digits and '_': \"{a-b}\""));
}

TEST(RulePatternTest, RefusesTheSameCaptureTwice) {
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{a}/{a}"),
              Invalid("capture {a} appears twice in the pattern"));
}

TEST(RulePatternTest, SpiffeIdPatternRulesApply) {
  EXPECT_THAT(RulePattern::Parse("spiffe://t/{a}/"),
              Invalid("path cannot have a trailing slash: \"spiffe://t/*/\" "
                      "(captures read as \"*\")"));
  EXPECT_THAT(RulePattern::Parse("spiffe://t/**/x"),
              Invalid("pattern wildcard \"**\" may only be the last segment: "
                      "\"spiffe://t/**/x\""));
  EXPECT_THAT(RulePattern::Parse("spiffe://T/x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("trust domain characters")));
}

// Subsumes(a, b): every ID b matches, a matches too.
bool Subsumes(const std::string& a, const std::string& b) {
  return P(a).Subsumes(P(b));
}

TEST(RulePatternTest, Subsumption) {
  // Duplicates, and captures against "*": the same sets of IDs.
  EXPECT_TRUE(Subsumes("spiffe://t/a/b", "spiffe://t/a/b"));
  EXPECT_TRUE(Subsumes("spiffe://t/{x}", "spiffe://t/*"));
  EXPECT_TRUE(Subsumes("spiffe://t/*", "spiffe://t/{y}"));
  EXPECT_TRUE(Subsumes("spiffe://t", "spiffe://t"));
  // One segment covers any literal there, not the other way round.
  EXPECT_TRUE(Subsumes("spiffe://t/ns/*/sa/*", "spiffe://t/ns/a/sa/b"));
  EXPECT_FALSE(Subsumes("spiffe://t/ns/a/sa/b", "spiffe://t/ns/*/sa/*"));
  EXPECT_FALSE(Subsumes("spiffe://t/ns/a/sa/*", "spiffe://t/ns/*/sa/b"));
  // "**" covers one or more segments.
  EXPECT_TRUE(Subsumes("spiffe://t/**", "spiffe://t/a"));
  EXPECT_TRUE(Subsumes("spiffe://t/**", "spiffe://t/a/**"));
  EXPECT_TRUE(Subsumes("spiffe://t/**", "spiffe://t/**"));
  EXPECT_TRUE(Subsumes("spiffe://t/a/**", "spiffe://t/a/*/b/**"));
  EXPECT_FALSE(Subsumes("spiffe://t/**", "spiffe://t"));
  EXPECT_FALSE(Subsumes("spiffe://t/a/**", "spiffe://t/a"));
  EXPECT_FALSE(Subsumes("spiffe://t/a/*", "spiffe://t/a/**"));
  EXPECT_FALSE(Subsumes("spiffe://t/a/*/*", "spiffe://t/a/**"));
  EXPECT_FALSE(Subsumes("spiffe://t/a/b/**", "spiffe://t/a/**"));
  // Lengths and trust domains.
  EXPECT_FALSE(Subsumes("spiffe://t/a", "spiffe://t/a/b"));
  EXPECT_FALSE(Subsumes("spiffe://t/a/b", "spiffe://t/a"));
  EXPECT_FALSE(Subsumes("spiffe://t", "spiffe://t/a"));
  EXPECT_FALSE(Subsumes("spiffe://t/**", "spiffe://u/a"));
  // Literals compare exactly.
  EXPECT_FALSE(Subsumes("spiffe://t/A", "spiffe://t/a"));
}

PrincipalTemplate T(const std::string& text, const std::string& pattern) {
  absl::StatusOr<PrincipalTemplate> t =
      PrincipalTemplate::Parse(text, P(pattern));
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return *t;
}

TEST(PrincipalTemplateTest, Expands) {
  PrincipalTemplate t = T("User:{sa}@{ns}", "spiffe://t/ns/{ns}/sa/{sa}/**");
  EXPECT_EQ(t.Expand({"ns", "prod", "sa", "web", "x", "y"}), "User:web@prod");
  EXPECT_FALSE(t.IsLiteral());
  EXPECT_TRUE(T("User:broker", "spiffe://t/{x}").IsLiteral());
}

TEST(PrincipalTemplateTest, RefusesBadTemplates) {
  const RulePattern p = P("spiffe://t/ns/{ns}/sa/{sa}");
  const auto parse = [&](const std::string& text) {
    return PrincipalTemplate::Parse(text, p);
  };
  EXPECT_THAT(parse("User:{team}"),
              Invalid("{team} is not a capture of the id pattern (its "
                      "captures: ns, sa): \"User:{team}\""));
  EXPECT_THAT(PrincipalTemplate::Parse("User:{a}", P("spiffe://t/a")),
              Invalid("{a} is not a capture of the id pattern (its captures: "
                      "none): \"User:{a}\""));
  EXPECT_THAT(parse("User:{ns"), Invalid("'{' without its '}': \"User:{ns\""));
  EXPECT_THAT(parse("User:{ns{sa}}"),
              Invalid("'{' without its '}': \"User:{ns{sa}}\""));
  EXPECT_THAT(parse("User:ns}"), Invalid("'}' without its '{': \"User:ns}\""));
  EXPECT_THAT(parse("User:{}"),
              Invalid("{} is not a capture of the id pattern (its captures: "
                      "ns, sa): \"User:{}\""));
  EXPECT_THAT(parse("User:{ns}-{ns}"),
              Invalid("{ns} is used twice: \"User:{ns}-{ns}\""));
  EXPECT_THAT(parse("{ns}"), Invalid("\"{ns}\" is not a principal: want "
                                     "TYPE:NAME, like User:orders"));
  EXPECT_THAT(parse("User:"), Invalid("\"User:\" is not a principal: want "
                                      "TYPE:NAME, like User:orders"));
  EXPECT_THAT(parse(":x"), Invalid("\":x\" is not a principal: want "
                                   "TYPE:NAME, like User:orders"));
  EXPECT_THAT(parse("Us3r:{ns}"),
              Invalid("\"Us3r:{ns}\": a principal's TYPE is letters, like "
                      "User"));
  EXPECT_THAT(parse("{ns}:x"), Invalid("\"{ns}:x\": a principal's TYPE is "
                                       "letters, like User"));
  EXPECT_THAT(parse("User:a\tb"),
              Invalid("\"User:a\\tb\": control characters are not allowed"));
}

TEST(PrincipalTemplateTest, CanProduce) {
  const PrincipalTemplate t = T("User:{ns}.{sa}", "spiffe://t/ns/{ns}/sa/{sa}");
  EXPECT_TRUE(t.CanProduce("User:orders.writer"));
  EXPECT_TRUE(t.CanProduce("User:a.b.c"));  // "a.b"+"c" or "a"+"b.c"
  EXPECT_TRUE(t.CanProduce("User:-._"));
  EXPECT_TRUE(t.CanProduce("User:a...b"));  // "a." + ".b"
  // Only from "." or ".." as a segment, which no ID has.
  EXPECT_FALSE(t.CanProduce("User:..."));
  EXPECT_FALSE(t.CanProduce("User:...x"));
  EXPECT_FALSE(t.CanProduce("User:..x"));
  EXPECT_FALSE(t.CanProduce("User:orders"));
  EXPECT_FALSE(t.CanProduce("User:orders."));
  EXPECT_FALSE(t.CanProduce("User:.writer"));
  EXPECT_FALSE(t.CanProduce("User:a/b.c"));
  EXPECT_FALSE(t.CanProduce("User:a b.c"));
  EXPECT_FALSE(t.CanProduce("user:a.b"));
  EXPECT_FALSE(t.CanProduce("Group:a.b"));
  EXPECT_FALSE(t.CanProduce("User:a.b "));
  EXPECT_FALSE(t.CanProduce(""));

  const PrincipalTemplate literal = T("User:broker", "spiffe://t/k/broker");
  EXPECT_TRUE(literal.CanProduce("User:broker"));
  EXPECT_FALSE(literal.CanProduce("User:broker2"));
  EXPECT_FALSE(literal.CanProduce("User:Broker"));

  // One capture may not exceed a whole ID.
  const PrincipalTemplate one = T("User:{x}", "spiffe://t/{x}");
  EXPECT_TRUE(one.CanProduce("User:" + std::string(2000, 'a')));
  EXPECT_FALSE(one.CanProduce("User:" + std::string(3000, 'a')));
}

TEST(PrincipalTemplateTest, CanProduceStaysFastOnHostileInput) {
  // Many ways to split the name between the captures; the memo keeps this
  // quadratic instead of exponential.
  const PrincipalTemplate t =
      T("User:{a}.{b}.{c}.{d}.{e}", "spiffe://t/{a}/{b}/{c}/{d}/{e}");
  std::string name = "User:";
  for (int i = 0; i < 600; ++i) name += "a.";
  EXPECT_TRUE(t.CanProduce(name));
  // Every split is tried before the '/' rules them all out.
  EXPECT_FALSE(t.CanProduce(name + "/"));
}

TEST(CheckPrincipalTest, TypeAndName) {
  EXPECT_TRUE(CheckPrincipal("User:x").ok());
  EXPECT_TRUE(CheckPrincipal("Group:a:b").ok());
  EXPECT_TRUE(CheckPrincipal("User:CN=a b,O=c").ok());
  EXPECT_FALSE(CheckPrincipal("User").ok());
  EXPECT_FALSE(CheckPrincipal("User_x:y").ok());
  EXPECT_FALSE(CheckPrincipal("User:a\nb").ok());
}

}  // namespace
}  // namespace mayfly::bridge::internal
