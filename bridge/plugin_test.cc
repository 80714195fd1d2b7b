// Plugin mode: the broker properties exactly, with the policy's trust
// domains and paths as given.
#include "bridge/plugin.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace mayfly::bridge {
namespace {

Policy Load(const std::string& yaml) {
  absl::StatusOr<Policy> policy = Policy::Parse(yaml, "p.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

TEST(RenderPluginPropertiesTest, EveryProperty) {
  const Policy policy = Load(
      "trust_domains: [prod.acme, staging.acme]\n"
      "brokers: [spiffe://prod.acme/kafka/*, spiffe://staging.acme/k]\n"
      "principals:\n"
      "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"
      "    principal: User:{ns}.{sa}\n"
      "super_users: [User:broker]\n");
  EXPECT_EQ(
      RenderPluginProperties(policy, {"/etc/mayfly/policy.yaml", "/run/svid/",
                                      "spiffe://prod.acme/kafka/b0"}),
      "# Kafka broker properties for the Mayfly broker plugin\n"
      "# (mayfly-kafka-broker-plugin-*.jar on the broker's classpath), from\n"
      "# the policy /etc/mayfly/policy.yaml.\n"
      "#\n"
      "# The principal is the client SVID's SPIFFE ID mapped by the policy;\n"
      "# it carries the SVID's NotAfter, and a connection whose SVID has\n"
      "# expired is closed at its next request.\n"
      "principal.builder.class="
      "dev.mayfly.kafka.principal.SpiffePrincipalBuilder\n"
      "# Kafka's StandardAuthorizer (ACLs from `mayfly bridge apply`), with\n"
      "# the policy's super_users and expired principals denied.\n"
      "authorizer.class.name=dev.mayfly.kafka.authorizer.SpiffeAuthorizer\n"
      "allow.everyone.if.no.acl.found=false\n"
      "# Every listener, the controller's included, and the broker's own\n"
      "# connections: key, chain and bundle from the SVID directory, read\n"
      "# again for each new handshake once it has changed (no reload call);\n"
      "# peers checked by their SPIFFE IDs, not by hostnames.\n"
      "ssl.engine.factory.class=dev.mayfly.kafka.ssl.SvidSslEngineFactory\n"
      "ssl.client.auth=required\n"
      "mayfly.policy.file=/etc/mayfly/policy.yaml\n"
      "# Kept current by `mayfly watch x509 --write /run/svid`.\n"
      "mayfly.svid.dir=/run/svid\n"
      "# This broker's own SPIFFE ID: an SVID with another is never served.\n"
      "mayfly.svid.spiffe.id=spiffe://prod.acme/kafka/b0\n"
      "# A peer's SPIFFE ID must be in one of these (the policy's).\n"
      "mayfly.trust.domains=prod.acme,staging.acme\n"
      "# The servers this broker's own connections reach (its controller,\n"
      "# other brokers) must be the policy's brokers, read from\n"
      "# mayfly.policy.file: spiffe://prod.acme/kafka/*, "
      "spiffe://staging.acme/k\n");
}

TEST(RenderPluginPropertiesTest, PathsEscapedForProperties) {
  const Policy policy = Load(
      "trust_domains: [prod.acme]\n"
      "principals:\n"
      "  - id: spiffe://prod.acme/a\n"
      "    principal: User:a\n");
  const std::string out = RenderPluginProperties(
      policy, {"/p\\q.yaml", "/svid\\dir", "spiffe://prod.acme/a"});
  EXPECT_NE(out.find("\nmayfly.policy.file=/p\\\\q.yaml\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\nmayfly.svid.dir=/svid\\\\dir\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\nmayfly.trust.domains=prod.acme\n"), std::string::npos)
      << out;
}

// A newline in a path (from the command line) would otherwise start a
// property of its own; non-ASCII would be garbled (Kafka reads ISO-8859-1).
TEST(RenderPluginPropertiesTest, ControlAndNonAsciiEscaped) {
  const Policy policy = Load(
      "trust_domains: [prod.acme]\n"
      "principals:\n"
      "  - id: spiffe://prod.acme/a\n"
      "    principal: User:a\n");
  const std::string out = RenderPluginProperties(
      policy, {"/p\nsuper.users=User:evil\r.yaml", " /caf\xc3\xa9\x01"});
  EXPECT_NE(out.find("\n# the policy /p\\u000Asuper.users=User:evil\\u000D"
                     ".yaml.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nmayfly.policy.file=/p\\u000Asuper.users=User:evil"
                     "\\u000D.yaml\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nmayfly.svid.dir=\\u0020/caf\\u00E9\\u0001\n"),
            std::string::npos)
      << out;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "super.users")) << line;
  }
}

}  // namespace
}  // namespace mayfly::bridge
