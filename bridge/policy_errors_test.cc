// Every load-time check of the policy, each with its exact message: these
// strings are what an operator reads after `mayfly bridge check`.
#include <string>

#include "bridge/policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::Eq;

absl::Status Error(const std::string& yaml) {
  return Policy::Parse(yaml, "p.yaml").status();
}

MATCHER_P(Invalid, message, "") {
  return ::testing::ExplainMatchResult(
      StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)), arg,
      result_listener);
}

// A valid head: one trust domain and two rules (lines 1-6).
constexpr char kHead[] =
    "trust_domains: [prod.acme]\n"                  // 1
    "principals:\n"                                 // 2
    "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"  // 3
    "    principal: User:{ns}.{sa}\n"               // 4
    "  - id: spiffe://prod.acme/kafka/broker\n"     // 5
    "    principal: User:broker\n";                 // 6

std::string Rule(const std::string& id, const std::string& principal) {
  return "  - id: " + id + "\n    principal: " + principal + "\n";
}

TEST(PolicyErrorsTest, TopLevel) {
  EXPECT_THAT(Error(""), Invalid("p.yaml: policy: want a map with "
                                 "trust_domains, brokers, principals, "
                                 "unmapped, super_users and acls"));
  EXPECT_THAT(Error("principals: []\n"),
              Invalid("p.yaml:1: trust_domains: required"));
  EXPECT_THAT(Error("trust_domains: [t]\n"),
              Invalid("p.yaml:1: principals: required"));
  EXPECT_THAT(Error("trust_domains: [t]\nprincipals: []\nacl: []\n"),
              Invalid("p.yaml:3: acl: unknown key (known: acls, brokers, "
                      "principals, super_users, trust_domains, unmapped)"));
  EXPECT_THAT(Error("trust_domains: [t]\nprincipals: []\ntrust_domains: [u]\n"),
              Invalid("p.yaml:3: trust_domains: key given twice (first at "
                      "line 1)"));
  EXPECT_THAT(Error("trust_domains: [t]\nprincipals: {}\n"),
              Invalid("p.yaml:2: principals: want a list"));
  EXPECT_THAT(Error(std::string(kHead) + "unmapped: allow\n"),
              Invalid("p.yaml:7: unmapped: \"allow\": want deny (the default) "
                      "or anonymous"));
}

TEST(PolicyErrorsTest, TrustDomains) {
  EXPECT_THAT(Error("trust_domains: []\nprincipals: []\n"),
              Invalid("p.yaml:1: trust_domains: list at least one trust "
                      "domain"));
  EXPECT_THAT(Error("trust_domains: t\nprincipals: []\n"),
              Invalid("p.yaml:1: trust_domains: want a list"));
  EXPECT_THAT(
      Error("trust_domains: [t, spiffe://u]\nprincipals: []\n"),
      Invalid("p.yaml:1: trust_domains[1]: \"spiffe://u\": want a bare name "
              "(prod.acme), not an ID"));
  EXPECT_THAT(Error("trust_domains: [Prod.acme]\nprincipals: []\n"),
              Invalid("p.yaml:1: trust_domains[0]: trust domain characters "
                      "are limited to lowercase letters, numbers, dots, "
                      "dashes, and underscores: \"Prod.acme\""));
  EXPECT_THAT(Error("trust_domains:\n  - t\n  - t\nprincipals: []\n"),
              Invalid("p.yaml:3: trust_domains[1]: t is listed twice"));
}

TEST(PolicyErrorsTest, RuleShape) {
  EXPECT_THAT(Error(std::string(kHead) + "  - principal: User:x\n"),
              Invalid("p.yaml:7: principals[2]: id is required"));
  EXPECT_THAT(Error(std::string(kHead) + "  - id: spiffe://prod.acme/x\n"
                                         "    principal: User:x\n"
                                         "    note: hi\n"),
              Invalid("p.yaml:9: principals[2].note: unknown key (known: id, "
                      "principal)"));
  EXPECT_THAT(Error(std::string(kHead) + Rule("spiffe://other/x", "User:x")),
              Invalid("p.yaml:7: principals[2].id: trust domain other is not "
                      "in trust_domains"));
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/x/", "User:x")),
      Invalid("p.yaml:7: principals[2].id: path cannot have a trailing "
              "slash: \"spiffe://prod.acme/x/\""));
}

TEST(PolicyErrorsTest, Captures) {
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/ns-{x}", "User:{x}")),
      Invalid("p.yaml:7: principals[2].id: a capture must be a whole path "
              "segment, like /{name}/: \"ns-{x}\""));
  EXPECT_THAT(Error(std::string(kHead) +
                    Rule("spiffe://prod.acme/a/{x}/b/{x}", "User:{x}")),
              Invalid("p.yaml:7: principals[2].id: capture {x} appears twice "
                      "in the pattern"));
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/a/{x}", "User:{y}")),
      Invalid("p.yaml:8: principals[2].principal: {y} is not a "
              "capture of the id pattern (its captures: x): "
              "\"User:{y}\""));
  EXPECT_THAT(Error(std::string(kHead) +
                    Rule("spiffe://prod.acme/a/{x}", "\"User:{x\"")),
              Invalid("p.yaml:8: principals[2].principal: '{' without its "
                      "'}': \"User:{x\""));
  EXPECT_THAT(Error(std::string(kHead) +
                    Rule("spiffe://prod.acme/a/{x}", "\"User:x}\"")),
              Invalid("p.yaml:8: principals[2].principal: '}' without its "
                      "'{': \"User:x}\""));
}

TEST(PolicyErrorsTest, PrincipalForm) {
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/a", "broker")),
      Invalid("p.yaml:8: principals[2].principal: \"broker\" is not a "
              "principal: want TYPE:NAME, like User:orders"));
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/a", "\":broker\"")),
      Invalid("p.yaml:8: principals[2].principal: \":broker\" is not a "
              "principal: want TYPE:NAME, like User:orders"));
  EXPECT_THAT(
      Error(std::string(kHead) + Rule("spiffe://prod.acme/a", "U-1:broker")),
      Invalid("p.yaml:8: principals[2].principal: \"U-1:broker\": a "
              "principal's TYPE is letters, like User"));
}

TEST(PolicyErrorsTest, UnreachableRules) {
  // A literal after the capture rule that covers it.
  EXPECT_THAT(
      Error(std::string(kHead) +
            Rule("spiffe://prod.acme/ns/payments/sa/admin", "User:admin")),
      Invalid("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
              "(principals[0], spiffe://prod.acme/ns/{ns}/sa/{sa}) matches "
              "every ID this one matches, and the first match wins"));
  // A duplicate.
  EXPECT_THAT(
      Error(std::string(kHead) +
            Rule("spiffe://prod.acme/kafka/broker", "User:broker2")),
      Invalid("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:5 "
              "(principals[1], spiffe://prod.acme/kafka/broker) matches every "
              "ID this one matches, and the first match wins"));
  // "*" and a capture are the same to matching.
  EXPECT_THAT(
      Error(std::string(kHead) +
            Rule("spiffe://prod.acme/ns/*/sa/{sa}", "User:{sa}")),
      Invalid("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
              "(principals[0], spiffe://prod.acme/ns/{ns}/sa/{sa}) matches "
              "every ID this one matches, and the first match wins"));
  // "**" shadows anything longer below it.
  EXPECT_THAT(
      Error("trust_domains: [t]\nprincipals:\n" +
            Rule("spiffe://t/a/**", "User:a") + Rule("spiffe://t/b", "User:b") +
            Rule("spiffe://t/a/x/{y}", "User:{y}")),
      Invalid("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
              "(principals[0], spiffe://t/a/**) matches every ID this one "
              "matches, and the first match wins"));
  // Partial overlaps are fine either way round.
  EXPECT_TRUE(Policy::Parse("trust_domains: [t]\nprincipals:\n" +
                                Rule("spiffe://t/a/{x}", "User:{x}") +
                                Rule("spiffe://t/{y}/b", "User:{y}") +
                                Rule("spiffe://t/a", "User:a") +
                                Rule("spiffe://t/a/**", "User:rest"),
                            "p.yaml")
                  .ok());
}

TEST(PolicyErrorsTest, SuperUsers) {
  EXPECT_THAT(Error(std::string(kHead) + "super_users: [broker]\n"),
              Invalid("p.yaml:7: super_users[0]: \"broker\" is not a "
                      "principal: want TYPE:NAME, like User:orders"));
  EXPECT_THAT(Error(std::string(kHead) + "super_users: ['User:a;User:b']\n"),
              Invalid("p.yaml:7: super_users[0]: ';' separates super.users "
                      "in Kafka's config"));
  EXPECT_THAT(Error(std::string(kHead) + "super_users: User:a\n"),
              Invalid("p.yaml:7: super_users: want a list"));
}

std::string Acl(const std::string& body) {
  return std::string(kHead) + "acls:\n  - " + body + "\n";  // acls[0]: line 8
}

TEST(PolicyErrorsTest, Acls) {
  const std::string topic = "resource: {type: topic, name: t}";
  EXPECT_THAT(
      Error(Acl("principal: User:nobody\n    " + topic +
                "\n    operations: [read]")),
      Invalid("p.yaml:8: acls[0].principal: no rule in principals maps an ID "
              "to \"User:nobody\", so the policy would not own its ACLs (plan "
              "and apply manage only the principals the policy maps to)"));
  EXPECT_THAT(Error(Acl("principal: nobody\n    " + topic +
                        "\n    operations: [read]")),
              Invalid("p.yaml:8: acls[0].principal: \"nobody\" is not a "
                      "principal: want TYPE:NAME, like User:orders"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    operations: [read]")),
              Invalid("p.yaml:8: acls[0]: resource is required"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    " + topic)),
              Invalid("p.yaml:8: acls[0]: operations is required"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    " + topic +
                        "\n    operations: []")),
              Invalid("p.yaml:10: acls[0].operations: want a list of one or "
                      "more operations"));
  EXPECT_THAT(
      Error(Acl("principal: User:broker\n    " + topic +
                "\n    operations: [read, cluster_action]")),
      Invalid("p.yaml:10: acls[0].operations[1]: cluster_action is not an "
              "operation on a topic (valid: read, write, create, delete, "
              "alter, describe, describe_configs, alter_configs, all)"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: group, "
                        "name: g}\n    operations: [write]")),
              Invalid("p.yaml:10: acls[0].operations[0]: write is not an "
                      "operation on a group (valid: read, describe, delete, "
                      "all)"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: "
                        "transactional_id, name: x}\n    operations: [read]")),
              Invalid("p.yaml:10: acls[0].operations[0]: read is not an "
                      "operation on a transactional_id (valid: describe, "
                      "write, all)"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: "
                        "cluster}\n    operations: [read]")),
              Invalid("p.yaml:10: acls[0].operations[0]: read is not an "
                      "operation on a cluster (valid: create, cluster_action, "
                      "describe_configs, alter_configs, idempotent_write, "
                      "alter, describe, all)"));
  EXPECT_THAT(
      Error(Acl("principal: User:broker\n    " + topic +
                "\n    operations: [fly]")),
      Invalid("p.yaml:10: acls[0].operations[0]: \"fly\" is not a operation; "
              "want one of all, read, write, create, delete, alter, describe, "
              "cluster_action, describe_configs, alter_configs, "
              "idempotent_write"));
}

TEST(PolicyErrorsTest, AclResources) {
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: "
                        "cluster, name: c1}\n    operations: [alter]")),
              Invalid("p.yaml:9: acls[0].resource.name: \"c1\": the cluster "
                      "resource is always named kafka-cluster"));
  EXPECT_THAT(
      Error(Acl("principal: User:broker\n    resource: {type: "
                "cluster, pattern: prefixed}\n    operations: [alter]")),
      Invalid("p.yaml:9: acls[0].resource.pattern: the cluster "
              "resource is named literally"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: topic, "
                        "name: ''}\n    operations: [read]")),
              Invalid("p.yaml:9: acls[0].resource.name: must not be empty"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: "
                        "topic}\n    operations: [read]")),
              Invalid("p.yaml:9: acls[0].resource: name is required"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: queue, "
                        "name: q}\n    operations: [read]")),
              Invalid("p.yaml:9: acls[0].resource.type: \"queue\" is not a "
                      "resource type; want one of topic, group, cluster, "
                      "transactional_id"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: topic, "
                        "name: t, pattern: match}\n    operations: [read]")),
              Invalid("p.yaml:9: acls[0].resource.pattern: \"match\" is not "
                      "a pattern type; want one of literal, prefixed"));
  EXPECT_THAT(
      Error(Acl("principal: User:broker\n    resource: {type: topic, "
                "name: t}\n    operations: [read]\n    host: 10.0.0.1")),
      Invalid("p.yaml:11: acls[0].host: \"10.0.0.1\": only \"*\"; a "
              "client address is no identity, the SPIFFE ID is"));
  EXPECT_THAT(Error(Acl("principal: User:broker\n    resource: {type: topic, "
                        "name: t}\n    operations: [read]\n    permission: "
                        "maybe")),
              Invalid("p.yaml:11: acls[0].permission: \"maybe\" is not a "
                      "permission; want one of allow, deny"));
}

}  // namespace
}  // namespace mayfly::bridge
