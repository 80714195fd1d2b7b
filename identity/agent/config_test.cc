// The agent config: every field read back, and every rule's error with its
// exact "FILE:LINE: FIELD:" prefix.
#include "identity/agent/config.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/selectors.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr char kHead[] =
    "trust_domain: example.org\n"     // 1
    "socket_path: /run/m/api.sock\n"  // 2
    "state_dir: /var/lib/m\n";        // 3

absl::Status Error(const std::string& yaml) {
  return ParseAgentConfig(yaml, "agent.yaml").status();
}

MATCHER_P(ErrorAt, prefix, "") {
  *result_listener << "status: " << arg;
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(arg.message(), prefix);
}

TEST(ConfigTest, EveryFieldReadBack) {
  auto config = ParseAgentConfig(
      std::string(kHead) +
          "default_ttl: 2m\n"
          "intermediate_ttl: 2h\n"
          "metrics_address: 127.0.0.1:9988\n"
          "log_level: debug\n"
          "limits:\n"
          "  max_connections: 10\n"
          "  max_streams_per_caller: 3\n"
          "  requests_per_second_per_caller: 2.5\n"
          "  request_burst: 7\n"
          "  max_request_bytes: 1000\n"
          "  max_response_bytes: 2000\n"
          "  max_hash_bytes: 3000\n"
          "entries:\n"
          "  - spiffe_id: spiffe://example.org/web\n"
          "    selectors: [\"unix:uid:0010\", \"unix:path:/usr/bin/web\", "
          "\"unix:uid:0010\"]\n"
          "    ttl: 30s\n"
          "    dns_names: [Web.Internal]\n"
          "    hint: web\n"
          "    subject: \"CN={path},O=Acme\\\\, Inc\"\n",
      "agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->trust_domain.name(), "example.org");
  EXPECT_EQ(config->socket_path, "/run/m/api.sock");
  EXPECT_EQ(config->state_dir, "/var/lib/m");
  EXPECT_EQ(config->default_ttl, absl::Minutes(2));
  EXPECT_EQ(config->intermediate_ttl, absl::Hours(2));
  EXPECT_EQ(config->metrics_address, "127.0.0.1:9988");
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->limits.max_connections, 10);
  EXPECT_EQ(config->limits.max_streams_per_caller, 3);
  EXPECT_EQ(config->limits.requests_per_second_per_caller, 2.5);
  EXPECT_EQ(config->limits.request_burst, 7);
  EXPECT_EQ(config->limits.max_request_bytes, 1000);
  EXPECT_EQ(config->limits.max_response_bytes, 2000);
  EXPECT_EQ(config->limits.max_hash_bytes, 3000);
  ASSERT_EQ(config->entries.size(), 1u);
  const EntryConfig& e = config->entries[0];
  EXPECT_EQ(e.spiffe_id.ToString(), "spiffe://example.org/web");
  // Canonical, sorted, de-duplicated.
  EXPECT_THAT(e.selectors,
              ElementsAre("unix:path:/usr/bin/web", "unix:uid:10"));
  EXPECT_EQ(e.ttl, absl::Seconds(30));
  EXPECT_THAT(e.dns_names, ElementsAre("web.internal"));
  EXPECT_EQ(e.hint, "web");
  EXPECT_EQ(e.source, "agent.yaml:17");
  auto subject = ExpandSubject(e.subject, e.spiffe_id);
  ASSERT_TRUE(subject.ok());
  EXPECT_THAT(*subject,
              ElementsAre(Pair("CN", "/web"), Pair("O", "Acme, Inc")));
}

TEST(ConfigTest, RequiredKeys) {
  EXPECT_THAT(Error("socket_path: /s\nstate_dir: /d\nentries: []\n"),
              ErrorAt("agent.yaml:1: trust_domain: required"));
  EXPECT_THAT(Error("trust_domain: example.org\nstate_dir: /d\nentries: []\n"),
              ErrorAt("agent.yaml:1: socket_path: required"));
}

TEST(ConfigTest, BadTrustDomain) {
  EXPECT_THAT(Error("trust_domain: Example.org\nsocket_path: /s\n"
                    "state_dir: /d\nentries: []\n"),
              ErrorAt("agent.yaml:1: trust_domain: "));
}

TEST(ConfigTest, UnknownKeyIsAnError) {
  EXPECT_THAT(Error(std::string(kHead) + "entries: []\ndefault_tll: 5m\n"),
              ErrorAt("agent.yaml:5: default_tll: unknown key"));
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries:\n  - spiffe_id: spiffe://example.org/a\n"
                    "    selector: [\"unix:uid:1\"]\n"),
              ErrorAt("agent.yaml:6: entries[0].selector: unknown key"));
}

TEST(ConfigTest, BadDuration) {
  EXPECT_THAT(Error(std::string(kHead) + "entries: []\ndefault_ttl: 5 min\n"),
              ErrorAt("agent.yaml:5: default_ttl: "));
  EXPECT_THAT(Error(std::string(kHead) + "entries: []\ndefault_ttl: 1s\n"),
              ErrorAt("agent.yaml:5: default_ttl: must be from 10s"));
}

TEST(ConfigTest, BadSelectorNamesEntryAndIndex) {
  EXPECT_THAT(
      Error(std::string(kHead) + "entries:\n"
                                 "  - spiffe_id: spiffe://example.org/a\n"
                                 "    selectors: [\"unix:uid:1\"]\n"
                                 "  - spiffe_id: spiffe://example.org/b\n"
                                 "    selectors:\n"
                                 "      - unix:uid:abc\n"),
      ErrorAt("agent.yaml:9: entries[1].selectors[0]: selector "
              "\"unix:uid:abc\": uid must be a decimal number"));
}

TEST(ConfigTest, EntryOutsideTrustDomain) {
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries:\n  - spiffe_id: spiffe://other.org/a\n"
                    "    selectors: [\"unix:uid:1\"]\n"),
              ErrorAt("agent.yaml:5: entries[0].spiffe_id: not in trust "
                      "domain \"example.org\""));
}

TEST(ConfigTest, EntriesAndEntriesFileAreExclusive) {
  EXPECT_THAT(Error(std::string(kHead) + "entries: []\nentries_file: e.yaml\n"),
              ErrorAt("agent.yaml:1: entries_file: give exactly one"));
  EXPECT_THAT(Error(kHead), ErrorAt("agent.yaml:1: entries: give exactly one"));
}

TEST(ConfigTest, DuplicateEntryNamesBothLines) {
  EXPECT_THAT(
      Error(std::string(kHead) + "entries:\n"
                                 "  - spiffe_id: spiffe://example.org/a\n"
                                 "    selectors: [\"unix:uid:1\"]\n"
                                 "  - spiffe_id: spiffe://example.org/a\n"
                                 "    selectors: [\"unix:uid:01\"]\n"),
      ErrorAt("agent.yaml:7: entries[1]: same spiffe_id and "
              "selectors as the entry at agent.yaml:5"));
}

TEST(ConfigTest, EmptySelectorsRefused) {
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries:\n  - spiffe_id: spiffe://example.org/a\n"
                    "    selectors: []\n"),
              ErrorAt("agent.yaml:6: entries[0].selectors: an entry needs at "
                      "least one selector"));
}

TEST(ConfigTest, SocketPathTooLong) {
  EXPECT_THAT(Error("trust_domain: example.org\nsocket_path: /" +
                    std::string(120, 'a') + "\nstate_dir: /d\nentries: []\n"),
              ErrorAt("agent.yaml:2: socket_path: must be an absolute path of "
                      "at most 107 bytes"));
}

TEST(ConfigTest, MetricsOnLoopbackOnly) {
  EXPECT_THAT(
      Error(std::string(kHead) + "entries: []\nmetrics_address: 0.0.0.0:9\n"),
      ErrorAt("agent.yaml:5: metrics_address: want 127.x.x.x:PORT"));
  // The check is the metrics server's own, so what passes here binds.
  EXPECT_THAT(
      Error(std::string(kHead) + "entries: []\nmetrics_address: 127.x:9\n"),
      ErrorAt("agent.yaml:5: metrics_address: want 127.x.x.x:PORT"));
}

TEST(ConfigTest, IntermediateMustOutliveSvids) {
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries: []\ndefault_ttl: 1h\nintermediate_ttl: 2h\n"),
              ErrorAt("agent.yaml:6: intermediate_ttl: must be at least 4x"));
}

TEST(ConfigTest, IntermediateTtlBounded) {
  EXPECT_THAT(
      Error(std::string(kHead) + "entries: []\nintermediate_ttl: 10000d\n"),
      ErrorAt("agent.yaml:5: intermediate_ttl: must be at most 96h (4x the "
              "longest SVID TTL an entry may have)"));
  auto at_max = ParseAgentConfig(
      std::string(kHead) + "entries: []\nintermediate_ttl: 4d\n", "a.yaml");
  ASSERT_TRUE(at_max.ok()) << at_max.status();
  EXPECT_EQ(at_max->intermediate_ttl, kMaxIntermediateTtl);
}

// A key given twice used to be read as its first value, silently.
TEST(ConfigTest, DuplicateTopLevelKey) {
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries: []\ndefault_ttl: 5m\ndefault_ttl: 10m\n"),
              ErrorAt("agent.yaml:6: default_ttl: key given twice (first at "
                      "line 5)"));
}

TEST(ConfigTest, DuplicateKeyInLimits) {
  EXPECT_THAT(
      Error(std::string(kHead) + "entries: []\nlimits:\n  max_connections: 1\n"
                                 "  max_connections: 9\n"),
      ErrorAt("agent.yaml:7: limits.max_connections: key given twice "
              "(first at line 6)"));
}

TEST(ConfigTest, DuplicateKeyInAnInlineEntry) {
  EXPECT_THAT(Error(std::string(kHead) +
                    "entries:\n  - spiffe_id: spiffe://example.org/a\n"
                    "    selectors: [\"unix:uid:1\"]\n    ttl: 1m\n"
                    "    ttl: 2m\n"),
              ErrorAt("agent.yaml:8: entries[0].ttl: key given twice (first "
                      "at line 7)"));
}

// The first `selectors` winning would silently drop the narrower second.
TEST(ConfigTest, DuplicateKeyInEntriesFile) {
  EXPECT_THAT(ParseEntries("entries:\n  - spiffe_id: spiffe://example.org/a\n"
                           "    selectors: [\"unix:uid:1\"]\n"
                           "    selectors: [\"unix:uid:1\", "
                           "\"unix:path:/bin/a\"]\n",
                           "entries.yaml")
                  .status(),
              ErrorAt("entries.yaml:4: entries[0].selectors: key given twice "
                      "(first at line 3)"));
}

// What --check-config runs: the entries file is loaded and checked too.
TEST(ConfigTest, ConfiguredEntriesLoadTheEntriesFile) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::ofstream(dir + "/check.yaml") << kHead << "entries_file: check-e.yaml\n";
  auto config = LoadAgentConfig(dir + "/check.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto entries_with = [&](const std::string& text) {
    std::ofstream(dir + "/check-e.yaml", std::ios::trunc) << text;
    return LoadConfiguredEntries(*config);
  };
  auto good = entries_with(
      "entries:\n  - spiffe_id: spiffe://example.org/a\n"
      "    selectors: [\"unix:uid:1\"]\n");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->size(), 1u);
  EXPECT_THAT(entries_with("entries:\n  - spiffe_id: spiffe://example.org/a\n"
                           "    selectors: [\"unix:uid:x\"]\n")
                  .status(),
              ErrorAt(dir + "/check-e.yaml:3: entries[0].selectors[0]: "));
  EXPECT_THAT(entries_with("entries:\n  - spiffe_id: spiffe://other.org/a\n"
                           "    selectors: [\"unix:uid:1\"]\n")
                  .status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       StartsWith(dir + "/check-e.yaml:2: spiffe_id: ")));
}

TEST(ConfigTest, MalformedYamlNamesTheLine) {
  EXPECT_THAT(Error(std::string(kHead) + "entries: [\n  oops: : :\n"),
              ErrorAt("agent.yaml:"));
  // A tab is outside the YAML both the agent and the broker plugin read
  // (identity/yaml_strict.h).
  EXPECT_THAT(
      Error(std::string(kHead) + "entries: []\n\tlog_level: info\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               Eq("agent.yaml:5: character U+0009 not allowed (a config "
                  "is printable UTF-8, lines end in \\n or \\r\\n, no "
                  "tabs)")));
}

TEST(ConfigTest, EntriesFileResolvedAgainstConfigDir) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::ofstream(dir + "/agent.yaml") << kHead << "entries_file: entries.yaml\n";
  std::ofstream(dir + "/entries.yaml")
      << "entries:\n  - spiffe_id: spiffe://example.org/a\n"
         "    selectors: [\"unix:user:kafka\"]\n";
  auto config = LoadAgentConfig(dir + "/agent.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->entries_file, dir + "/entries.yaml");
  auto entries = LoadEntries(config->entries_file);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].source, dir + "/entries.yaml:2");
  EXPECT_TRUE(CheckEntriesInTrustDomain(*entries, config->trust_domain).ok());
  EXPECT_THAT(
      CheckEntriesInTrustDomain(
          *entries, *identity::TrustDomain::FromString("other.org")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("entries.yaml:2: spiffe_id: spiffe://example.org/a "
                         "is not in trust domain \"other.org\"")));
}

TEST(ConfigTest, DefaultConfigParses) {
  auto config =
      ParseAgentConfig(DefaultAgentConfigYaml(1000, "/run/u", "/s"), "default");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->socket_path, "/run/u/public/api.sock");
  ASSERT_EQ(config->entries.size(), 1u);
  EXPECT_EQ(config->entries[0].spiffe_id.ToString(),
            "spiffe://example.org/user/1000");
  EXPECT_THAT(config->entries[0].selectors, ElementsAre("unix:uid:1000"));
}

TEST(SubjectTest, TemplateRules) {
  EXPECT_THAT(ParseSubjectTemplate("XX=a").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("attribute \"XX\"")));
  EXPECT_THAT(ParseSubjectTemplate("CN").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("want ATTR=VALUE")));
  EXPECT_THAT(ParseSubjectTemplate("CN={uid}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("placeholders are")));
  auto id = *identity::SpiffeId::FromString("spiffe://example.org/a");
  auto country = ParseSubjectTemplate("C=USA");
  ASSERT_TRUE(country.ok());
  EXPECT_THAT(
      ExpandSubject(*country, id).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("two letters")));
  auto long_cn = ParseSubjectTemplate("CN={spiffe_id}");
  auto long_id = *identity::SpiffeId::FromString("spiffe://example.org/" +
                                                 std::string(60, 'x'));
  EXPECT_THAT(ExpandSubject(*long_cn, long_id).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("X.520 allows 64")));
  auto ok = ExpandSubject(
      *ParseSubjectTemplate("CN={spiffe_id},OU={trust_domain}"), id);
  ASSERT_TRUE(ok.ok());
  EXPECT_THAT(*ok, ElementsAre(Pair("CN", "spiffe://example.org/a"),
                               Pair("OU", "example.org")));
}

TEST(SelectorTest, EveryKind) {
  EXPECT_EQ(*CanonicalSelector("unix:uid:007"), "unix:uid:7");
  EXPECT_EQ(*CanonicalSelector("unix:gid:0"), "unix:gid:0");
  EXPECT_EQ(*CanonicalSelector("unix:supplementary_gid:27"),
            "unix:supplementary_gid:27");
  EXPECT_EQ(*CanonicalSelector("unix:user:kafka"), "unix:user:kafka");
  EXPECT_EQ(*CanonicalSelector("unix:group:www-data"), "unix:group:www-data");
  EXPECT_EQ(*CanonicalSelector("unix:supplementary_group:docker"),
            "unix:supplementary_group:docker");
  EXPECT_EQ(*CanonicalSelector("unix:path:/usr/bin/java"),
            "unix:path:/usr/bin/java");
  EXPECT_EQ(*CanonicalSelector("unix:sha256:" + std::string(64, 'A')),
            "unix:sha256:" + std::string(64, 'a'));
}

TEST(SelectorTest, EveryRule) {
  const auto invalid = [](const std::string& s, const std::string& rule) {
    EXPECT_THAT(CanonicalSelector(s).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(rule)))
        << s;
  };
  invalid("uid:1", "want TYPE:KIND:VALUE");
  invalid("k8s:ns:default", "unknown type \"k8s\"");
  invalid("unix:pid:1", "unknown kind \"pid\"");
  invalid("unix:uid:", "decimal number");
  invalid("unix:uid:-1", "decimal number");
  invalid("unix:uid:4294967296", "below 2^32");
  invalid("unix:user:-x", "not starting with '-'");
  invalid("unix:user:a b", "from [A-Za-z0-9._-]");
  invalid("unix:group:" + std::string(33, 'g'), "1 to 32 characters");
  invalid("unix:path:bin/java", "absolute");
  invalid("unix:path:/usr//bin", "no //");
  invalid("unix:path:/usr/./bin", "/./");
  invalid("unix:path:/usr/../bin", "/../");
  invalid("unix:path:/usr/bin/", "trailing /");
  invalid("unix:sha256:abc", "64 hex digits");
  invalid("unix:sha256:" + std::string(64, 'g'), "64 hex digits");
}

}  // namespace
}  // namespace mayfly::agent
