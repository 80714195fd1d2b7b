// The policy: what a file loads to, each load-time check with its exact
// "FILE:LINE: FIELD:" message, mapping with every denial, and ownership.
#include "bridge/policy.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::Optional;

constexpr char kPolicy[] =
    "trust_domains: [prod.acme, staging.acme]\n"         // 1
    "principals:\n"                                      // 2
    "  - id: spiffe://prod.acme/ns/payments/sa/admin\n"  // 3
    "    principal: User:payments-admin\n"               // 4
    "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"       // 5
    "    principal: User:{ns}.{sa}\n"                    // 6
    "  - id: spiffe://prod.acme/team/{team}/**\n"        // 7
    "    principal: Group:{team}\n"                      // 8
    "  - id: spiffe://staging.acme/kafka/broker\n"       // 9
    "    principal: User:broker\n"                       // 10
    "super_users: [User:broker, User:ops]\n"             // 11
    "acls:\n"                                            // 12
    "  - principal: User:orders.writer\n"                // 13
    "    resource: {type: topic, name: orders}\n"        // 14
    "    operations: [write, describe, write]\n"         // 15
    "  - principal: User:orders.writer\n"                // 16
    "    resource: {type: cluster}\n"                    // 17
    "    operations: [idempotent_write]\n"               // 18
    "    permission: allow\n"                            // 19
    "  - principal: Group:blue\n"                        // 20
    "    resource: {type: group, name: blue-, pattern: prefixed}\n"
    "    operations: [read]\n"
    "    permission: deny\n"
    "    host: '*'\n";

Policy Load(const std::string& yaml) {
  absl::StatusOr<Policy> policy = Policy::Parse(yaml, "p.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

absl::Status Error(const std::string& yaml) {
  return Policy::Parse(yaml, "p.yaml").status();
}

MATCHER_P(Invalid, message, "") {
  return ::testing::ExplainMatchResult(
      StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)), arg,
      result_listener);
}

AclBinding Binding(std::string principal, ResourceType type, std::string name,
                   PatternType pattern, Operation op, Permission permission) {
  AclBinding b;
  b.principal = std::move(principal);
  b.resource_type = type;
  b.resource_name = std::move(name);
  b.pattern_type = pattern;
  b.operation = op;
  b.permission = permission;
  return b;
}

TEST(PolicyTest, LoadsEveryPart) {
  const Policy policy = Load(kPolicy);
  ASSERT_EQ(policy.trust_domains().size(), 2);
  EXPECT_EQ(policy.trust_domains()[0].name(), "prod.acme");
  EXPECT_EQ(policy.trust_domains()[1].name(), "staging.acme");
  ASSERT_EQ(policy.rules().size(), 4);
  EXPECT_EQ(policy.rules()[1].id_pattern, "spiffe://prod.acme/ns/{ns}/sa/{sa}");
  EXPECT_EQ(policy.rules()[1].principal_template, "User:{ns}.{sa}");
  EXPECT_THAT(policy.rules()[1].captures, ElementsAre("ns", "sa"));
  EXPECT_EQ(policy.rules()[1].source, "p.yaml:5");
  EXPECT_THAT(policy.rules()[0].captures, ElementsAre());
  EXPECT_THAT(policy.super_users(), ElementsAre("User:broker", "User:ops"));
  using O = Operation;
  using R = ResourceType;
  using PT = PatternType;
  // One binding per operation, sorted, the repeated write once.
  EXPECT_THAT(
      policy.acls(),
      ElementsAre(
          Binding("Group:blue", R::kGroup, "blue-", PT::kPrefixed, O::kRead,
                  Permission::kDeny),
          Binding("User:orders.writer", R::kTopic, "orders", PT::kLiteral,
                  O::kWrite, Permission::kAllow),
          Binding("User:orders.writer", R::kTopic, "orders", PT::kLiteral,
                  O::kDescribe, Permission::kAllow),
          Binding("User:orders.writer", R::kCluster, "kafka-cluster",
                  PT::kLiteral, O::kIdempotentWrite, Permission::kAllow)));
  for (const AclBinding& b : policy.acls()) EXPECT_EQ(b.host, "*");
}

// SHA-256 of the bytes parsed, lower-case hex (`printf ... | sha256sum`).
// PolicySourceTest (Java) pins the same text to the same digest, so the
// bridge and the broker plugin show one "policy sha256:" for one file.
TEST(PolicyTest, Sha256IsOfTheBytesParsed) {
  const std::string text = "trust_domains: [t]\nprincipals: []\n";
  absl::StatusOr<Policy> p = Policy::Parse(text, "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sha256(),
            "ddf915c891417bb3b6eba21b5908bce774f8998d8fcc75c51aff87e9a7adafc9");
  // Comments count: the digest names the file, not its meaning.
  absl::StatusOr<Policy> commented = Policy::Parse(text + "# x\n", "p.yaml");
  ASSERT_TRUE(commented.ok()) << commented.status();
  EXPECT_NE(commented->sha256(), p->sha256());
  EXPECT_EQ(kPolicyDigestLabel, "policy sha256:");
}

TEST(PolicyTest, MapsFirstMatchWithCaptures) {
  const Policy policy = Load(kPolicy);
  MapResult r = policy.Map("spiffe://prod.acme/ns/orders/sa/writer");
  EXPECT_THAT(r.principal, Optional(Eq("User:orders.writer")));
  EXPECT_EQ(r.detail,
            "principals[1] at p.yaml:5: spiffe://prod.acme/ns/{ns}/sa/{sa}");
  // Both rules match; the first wins.
  r = policy.Map("spiffe://prod.acme/ns/payments/sa/admin");
  EXPECT_THAT(r.principal, Optional(Eq("User:payments-admin")));
  EXPECT_EQ(r.detail,
            "principals[0] at p.yaml:3: spiffe://prod.acme/ns/payments/sa/"
            "admin");
  EXPECT_THAT(policy.Map("spiffe://prod.acme/team/blue/a/b").principal,
              Optional(Eq("Group:blue")));
  EXPECT_THAT(policy.Map("spiffe://staging.acme/kafka/broker").principal,
              Optional(Eq("User:broker")));
}

TEST(PolicyTest, Denials) {
  const Policy policy = Load(kPolicy);
  MapResult r = policy.Map("spiffe://prod.acme/ns/orders/sa/writer/");
  EXPECT_EQ(r.principal, std::nullopt);
  EXPECT_EQ(r.denial, Denial::kInvalidId);
  EXPECT_EQ(r.detail,
            "path cannot have a trailing slash: "
            "\"spiffe://prod.acme/ns/orders/sa/writer/\"");
  r = policy.Map("spiffe://prod.acme.evil/ns/orders/sa/writer");
  EXPECT_EQ(r.principal, std::nullopt);
  EXPECT_EQ(r.denial, Denial::kForeignTrustDomain);
  EXPECT_EQ(r.detail,
            "trust domain prod.acme.evil is not one of the policy's "
            "(prod.acme, staging.acme)");
  r = policy.Map("spiffe://prod.acme/team/blue");
  EXPECT_EQ(r.principal, std::nullopt);
  EXPECT_EQ(r.denial, Denial::kUnmapped);
  EXPECT_EQ(r.detail, "no rule matches, and unmapped is deny");
  EXPECT_EQ(DenialName(Denial::kInvalidId), "invalid_id");
  EXPECT_EQ(DenialName(Denial::kForeignTrustDomain), "foreign_trust_domain");
  EXPECT_EQ(DenialName(Denial::kUnmapped), "unmapped");
}

TEST(PolicyTest, UnmappedAnonymous) {
  const Policy policy = Load(
      "trust_domains: [t]\nprincipals: []\nunmapped: anonymous\n"
      "acls:\n  - principal: User:ANONYMOUS\n"
      "    resource: {type: topic, name: public}\n    operations: [read]\n");
  MapResult r = policy.Map("spiffe://t/anything");
  EXPECT_THAT(r.principal, Optional(Eq("User:ANONYMOUS")));
  EXPECT_EQ(r.detail, "no rule matches; unmapped: anonymous");
  // Anonymous is for unmapped IDs of listed trust domains only.
  EXPECT_EQ(policy.Map("spiffe://u/anything").denial,
            Denial::kForeignTrustDomain);
  EXPECT_EQ(policy.Map("spiffe://t/").denial, Denial::kInvalidId);
  EXPECT_TRUE(policy.Owns("User:ANONYMOUS"));
  EXPECT_EQ(policy.acls().size(), 1);
  EXPECT_FALSE(Load(kPolicy).Owns("User:ANONYMOUS"));
}

TEST(PolicyTest, Owns) {
  const Policy policy = Load(kPolicy);
  EXPECT_TRUE(policy.Owns("User:payments-admin"));
  EXPECT_TRUE(policy.Owns("User:orders.writer"));
  EXPECT_TRUE(policy.Owns("User:a.b.c"));
  EXPECT_TRUE(policy.Owns("Group:blue"));
  EXPECT_TRUE(policy.Owns("User:broker"));
  EXPECT_FALSE(policy.Owns("User:orders"));  // no "." between two captures
  EXPECT_FALSE(policy.Owns("User:payments-admin2"));
  EXPECT_FALSE(policy.Owns("Group:a/b"));
  EXPECT_FALSE(policy.Owns("Group:"));
  EXPECT_FALSE(policy.Owns("User:*"));
  EXPECT_FALSE(policy.Owns("User:ANONYMOUS"));
  EXPECT_FALSE(policy.Owns("user:broker"));
}

TEST(PolicyTest, CopiesShareOneImmutablePolicy) {
  const Policy a = Load(kPolicy);
  const Policy b = a;
  EXPECT_EQ(&a.rules(), &b.rules());
}

TEST(PolicyTest, LoadReadsAFile) {
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/policy.yaml";
  std::ofstream(path) << "trust_domains: [t]\nprincipals:\n  - id: x\n";
  EXPECT_THAT(Policy::Load(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq(path + ":3: principals[0]: principal is required")));
  EXPECT_THAT(Policy::Load(path + ".missing"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

}  // namespace
}  // namespace mayfly::bridge
