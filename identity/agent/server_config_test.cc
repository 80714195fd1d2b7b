// The agent config's `server:` block (server mode): every field read back,
// and every rule's error with its exact "FILE:LINE: FIELD:" prefix.
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/config.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kHead[] =
    "trust_domain: example.org\n"     // 1
    "socket_path: /run/m/api.sock\n"  // 2
    "state_dir: /var/lib/m\n"         // 3
    "server:\n";                      // 4

constexpr char kSha[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";

absl::Status Error(const std::string& server_block) {
  return ParseAgentConfig(std::string(kHead) + server_block, "agent.yaml",
                          "/etc/m")
      .status();
}

MATCHER_P(ErrorAt, prefix, "") {
  *result_listener << "status: " << arg;
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(arg.message(), prefix);
}

TEST(ServerConfigTest, JoinTokenAndBundleReadBack) {
  auto config = ParseAgentConfig(std::string(kHead) +
                                     "  address: [ca1:8443, \"[::1]:9000\"]\n"
                                     "  bundle: bundle.pem\n"
                                     "  join_token: abc\n",
                                 "agent.yaml", "/etc/m");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->server.has_value());
  EXPECT_THAT(config->server->addresses, ElementsAre("ca1:8443", "[::1]:9000"));
  EXPECT_EQ(config->server->bundle_file, "/etc/m/bundle.pem");
  EXPECT_EQ(config->server->root_sha256, "");
  EXPECT_EQ(config->server->join_token, "abc");
  EXPECT_EQ(config->server->join_token_file, "");
  EXPECT_TRUE(config->entries.empty());
  EXPECT_EQ(config->entries_file, "");
}

TEST(ServerConfigTest, RootShaAndX509PopReadBack) {
  auto config = ParseAgentConfig(
      std::string(kHead) + "  address: [ca1:8443]\n  root_sha256: " + kSha +
          "\n  x509pop: {cert: /n/node.pem, key: node.key}\n",
      "agent.yaml", "/etc/m");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server->root_sha256,
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  EXPECT_EQ(config->server->bundle_file, "");
  EXPECT_EQ(config->server->x509pop_cert, "/n/node.pem");
  EXPECT_EQ(config->server->x509pop_key, "/etc/m/node.key");
  EXPECT_EQ(config->server->join_token, "");
}

TEST(ServerConfigTest, JoinTokenFileResolved) {
  auto config = ParseAgentConfig(std::string(kHead) +
                                     "  address: [ca1:8443]\n"
                                     "  bundle: /b.pem\n"
                                     "  join_token_file: token\n",
                                 "agent.yaml", "/etc/m");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server->join_token_file, "/etc/m/token");
  EXPECT_EQ(config->server->bundle_file, "/b.pem");
}

TEST(ServerConfigTest, AddressRules) {
  EXPECT_THAT(Error("  bundle: b.pem\n  join_token: t\n"),
              ErrorAt("agent.yaml:5: server.address: required"));
  EXPECT_THAT(Error("  address: ca1:8443\n  bundle: b.pem\n  join_token: t\n"),
              ErrorAt("agent.yaml:5: server.address: must be a list"));
  EXPECT_THAT(Error("  address: []\n  bundle: b.pem\n  join_token: t\n"),
              ErrorAt("agent.yaml:5: server.address: must name at least one"));
  EXPECT_THAT(
      Error("  address: [ca1:8443, ca2]\n  bundle: b.pem\n  join_token: t\n"),
      ErrorAt("agent.yaml:5: server.address[1]: \"ca2\" is not host:port"));
  EXPECT_THAT(Error("  address: [ca1:0]\n  bundle: b.pem\n  join_token: t\n"),
              ErrorAt("agent.yaml:5: server.address[0]: \"ca1:0\" is not"));
}

TEST(ServerConfigTest, ExactlyOneTrustAnchor) {
  EXPECT_THAT(Error("  address: [a:1]\n  join_token: t\n"),
              ErrorAt("agent.yaml:5: server: give one of bundle or "
                      "root_sha256"));
  EXPECT_THAT(Error(std::string("  address: [a:1]\n  bundle: b.pem\n"
                                "  root_sha256: ") +
                    kSha + "\n  join_token: t\n"),
              ErrorAt("agent.yaml:7: server.root_sha256: give only one of "
                      "bundle and root_sha256"));
  EXPECT_THAT(Error("  address: [a:1]\n  root_sha256: abc\n  join_token: t\n"),
              ErrorAt("agent.yaml:6: server.root_sha256: want the SHA-256"));
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: \"\"\n  join_token: t\n"),
              ErrorAt("agent.yaml:6: server.bundle: empty path"));
}

TEST(ServerConfigTest, ExactlyOneAttestation) {
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n"),
              ErrorAt("agent.yaml:5: server: give one of join_token, "
                      "join_token_file or x509pop"));
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n  join_token: t\n"
                    "  x509pop: {cert: c, key: k}\n"),
              ErrorAt("agent.yaml:8: server.x509pop: give only one of "
                      "join_token and x509pop"));
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n  join_token: \"\"\n"),
              ErrorAt("agent.yaml:7: server.join_token: empty token"));
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n"
                    "  x509pop: {cert: c}\n"),
              ErrorAt("agent.yaml:7: server.x509pop.key: required"));
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n"
                    "  x509pop: {cert: c, key: k, chain: x}\n"),
              ErrorAt("agent.yaml:7: server.x509pop.chain: unknown key"));
}

TEST(ServerConfigTest, UnknownKeyInServer) {
  EXPECT_THAT(Error("  address: [a:1]\n  bundle: b.pem\n  join_token: t\n"
                    "  agent_ttl: 1h\n"),
              ErrorAt("agent.yaml:8: server.agent_ttl: unknown key"));
}

TEST(ServerConfigTest, EntriesRefusedInServerMode) {
  const std::string server =
      "  address: [a:1]\n  bundle: b.pem\n  join_token: t\n";
  EXPECT_THAT(Error(server + "entries: []\n"),
              ErrorAt("agent.yaml:8: entries: not allowed with server: "
                      "(entries come from the server)"));
  EXPECT_THAT(Error(server + "entries_file: e.yaml\n"),
              ErrorAt("agent.yaml:8: entries_file: not allowed with server:"));
}

TEST(ServerConfigTest, ServerMustBeAMapping) {
  EXPECT_THAT(Error("  - a:1\n"),
              ErrorAt("agent.yaml:5: server: must be a mapping"));
}

}  // namespace
}  // namespace mayfly::agent
