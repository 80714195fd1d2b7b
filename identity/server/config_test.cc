// mayfly-server config: defaults, each section, and FILE:LINE: FIELD errors.
#include "identity/server/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<ServerConfig> Parse(absl::string_view yaml) {
  return ParseServerConfig(yaml, "server.yaml", "/etc/mayfly", 1234);
}

TEST(ServerConfigTest, MinimalConfigGetsDefaults) {
  absl::StatusOr<ServerConfig> c =
      Parse("trust_domain: example.org\nstate_dir: /var/lib/ms\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trust_domain.name(), "example.org");
  EXPECT_EQ(c->state_dir, "/var/lib/ms");
  EXPECT_EQ(c->signing.ca_dir, "/var/lib/ms/ca");
  EXPECT_TRUE(c->etcd_endpoints.empty());
  EXPECT_EQ(c->admin_uids, (std::set<uid_t>{0, 1234}));
  EXPECT_EQ(c->default_ttl, absl::Minutes(5));
  EXPECT_EQ(c->agent_ttl, absl::Hours(1));
  EXPECT_EQ(c->admin_socket_mode, 0600u);
  EXPECT_EQ(c->root_rotation_lead, absl::Seconds(30));
  EXPECT_EQ(c->metrics_address, "");
}

TEST(ServerConfigTest, FullConfig) {
  absl::StatusOr<ServerConfig> c = Parse(R"(trust_domain: example.org
listen_address: 0.0.0.0:8081
admin_socket: /run/ms/admin.sock
admin_socket_mode: "0660"
admin_uids: [0, 1000]
admin_ids: [spiffe://example.org/admin]
state_dir: state
store: {etcd: {endpoints: [10.0.0.1:2379], ca_file: etcd-ca.pem,
               cert_file: etcd.pem, key_file: etcd-key.pem}}
signing:
  intermediate_cert: int.pem
  intermediate_key: /k/int.key
  bundle: roots.pem
default_ttl: 10m
agent_ttl: 2h
root_rotation_lead: 5m
x509pop:
  ca_bundle: nodes.pem
  aliases:
    - {cn: "kafka-*", alias: spiffe://example.org/mayfly/alias/kafka}
metrics_address: 127.0.0.1:9989
log_level: debug
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state_dir, "/etc/mayfly/state");
  EXPECT_EQ(c->admin_socket_mode, 0660u);
  EXPECT_EQ(c->admin_uids, (std::set<uid_t>{0, 1000}));
  EXPECT_EQ(c->metrics_address, "127.0.0.1:9989");
  EXPECT_THAT(c->etcd_endpoints, ElementsAre("10.0.0.1:2379"));
  EXPECT_EQ(c->etcd_ca_file, "/etc/mayfly/etcd-ca.pem");
  EXPECT_EQ(c->etcd_key_file, "/etc/mayfly/etcd-key.pem");
  EXPECT_EQ(c->signing.ca_dir, "");
  EXPECT_EQ(c->signing.intermediate_cert, "/etc/mayfly/int.pem");
  EXPECT_EQ(c->signing.intermediate_key, "/k/int.key");
  EXPECT_EQ(c->default_ttl, absl::Minutes(10));
  EXPECT_EQ(c->root_rotation_lead, absl::Minutes(5));
  EXPECT_EQ(c->x509pop_ca_bundle, "/etc/mayfly/nodes.pem");
  ASSERT_EQ(c->x509pop_aliases.size(), 1u);
  EXPECT_EQ(c->x509pop_aliases[0].cn, "kafka-*");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
}

TEST(ServerConfigTest, ErrorsNameFileLineAndField) {
  EXPECT_THAT(
      Parse("trust_domain: example.org\nstate_dir: /s\nbogus: 1\n").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("server.yaml:3: bogus: unknown key")));
  EXPECT_THAT(Parse("state_dir: /s\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trust_domain: required")));
  EXPECT_THAT(
      Parse("trust_domain: example.org\nstate_dir: /s\ndefault_ttl: 2s\n")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("server.yaml:3: default_ttl: must be from 10s")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\nsigning:\n"
                    "  ca_dir: /ca\n  bundle: b.pem\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:5: signing.bundle: give either "
                                 "ca_dir")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\n"
                    "admin_ids: [spiffe://other.org/admin]\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:3: admin_ids[0]: want a SPIFFE "
                                 "ID in trust domain example.org")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\n"
                    "store: {file: {}, etcd: {endpoints: [a]}}\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:3: store: give one of file and "
                                 "etcd")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\nstore:\n"
                    "  etcd: {endpoints: [https://10.0.0.1:2379]}\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:4: store.etcd.endpoints: "
                                 "\"https://10.0.0.1:2379\" is not "
                                 "host:port")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\nstore:\n"
                    "  etcd: {endpoints: [e:1], cert_file: c.pem}\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:4: store.etcd: give both "
                                 "cert_file and key_file, or neither")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\n"
                    "admin_socket_mode: \"0666\"\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:3: admin_socket_mode: must be "
                                 "0600 or 0660")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\n"
                    "root_rotation_lead: 25h\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:3: root_rotation_lead: must be "
                                 "from 0s to 24h")));
  EXPECT_THAT(Parse("trust_domain: example.org\nstate_dir: /s\n"
                    "metrics_address: 0.0.0.0:9989\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:3: metrics_address: want "
                                 "127.x.x.x:PORT")));
}

}  // namespace
}  // namespace mayfly::server

namespace mayfly::server {
namespace {

constexpr char kStepCaConfig[] =
    "trust_domain: example.org\n"
    "state_dir: /s\n"
    "signing:\n"
    "  upstream:\n"
    "    step_ca:\n"
    "      url: https://ca.example:9000\n"
    "      root_file: step/root.pem\n"
    "      provisioner: mayfly\n"
    "      provisioner_key_file: /secret/prov.key\n"
    "      ttl: 12h\n";

TEST(ServerConfigUpstreamTest, StepCaBlock) {
  absl::StatusOr<ServerConfig> c = Parse(kStepCaConfig);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->signing.ca_dir, "");
  EXPECT_EQ(c->signing.step_ca.url, "https://ca.example:9000");
  EXPECT_EQ(c->signing.step_ca.root_file, "/etc/mayfly/step/root.pem");
  EXPECT_EQ(c->signing.step_ca.provisioner, "mayfly");
  EXPECT_EQ(c->signing.step_ca.provisioner_key_file, "/secret/prov.key");
  EXPECT_EQ(c->signing.upstream_ttl, absl::Hours(12));
}

TEST(ServerConfigUpstreamTest, ErrorsNameFileLineAndField) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string yaml = kStepCaConfig;
    yaml.replace(yaml.find(from), from.size(), to);
    return Parse(yaml).status();
  };
  EXPECT_THAT(with("https://ca.example:9000", "http://ca.example:9000"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:6: signing.upstream.step_ca.url: "
                                 "\"http://ca.example:9000\" is not "
                                 "https://HOST[:PORT]: not https")));
  EXPECT_THAT(with("      provisioner: mayfly\n", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:6: "
                                 "signing.upstream.step_ca.provisioner: "
                                 "required")));
  EXPECT_THAT(
      with("ttl: 12h", "ttl: 30s"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("server.yaml:10: signing.upstream.step_ca.ttl: "
                         "must be from 1m to 8760h")));
  EXPECT_THAT(with("ttl: 12h", "pathlen: 1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:10: signing.upstream.step_ca."
                                 "pathlen")));
  EXPECT_THAT(with("  upstream:\n", "  ca_dir: /ca\n  upstream:\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:4: signing.ca_dir: give either "
                                 "upstream or the other signing keys")));
  EXPECT_THAT(with("    step_ca:\n", "    vault:\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server.yaml:5: signing.upstream.vault")));
}

}  // namespace
}  // namespace mayfly::server
