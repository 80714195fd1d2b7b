// The flags of `mayfly kafka produce|consume` through a real FlagSet: the
// defaults, each value parsed, and one error per rule naming its flag.
#include "kafka/cli/options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/cli/flags.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::kafka::cli {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;

absl::StatusOr<ProduceOptions> ParseProduce(std::vector<std::string> args) {
  mayfly::cli::FlagSet set("produce", "");
  ProduceFlags flags(set);
  absl::StatusOr<std::vector<std::string>> positional = set.Parse(args);
  if (!positional.ok()) return positional.status();
  return flags.Options();
}

absl::StatusOr<ConsumeOptions> ParseConsume(std::vector<std::string> args) {
  mayfly::cli::FlagSet set("consume", "");
  ConsumeFlags flags(set);
  absl::StatusOr<std::vector<std::string>> positional = set.Parse(args);
  if (!positional.ok()) return positional.status();
  return flags.Options();
}

const std::vector<std::string> kProduceBase = {"--bootstrap", "b:9093",
                                               "--topic", "t"};
const std::vector<std::string> kConsumeBase = {
    "--bootstrap", "b:9093", "--topic", "t", "--group", "g"};

// What --tls mayfly (the default) requires on top of a base.
const std::vector<std::string> kBrokers = {"--broker-spiffe-id",
                                           "spiffe://example.org/kafka/*"};

std::vector<std::string> With(std::vector<std::string> base,
                              const std::vector<std::string>& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

TEST(ProduceFlagsTest, Defaults) {
  absl::StatusOr<ProduceOptions> o = ParseProduce(With(kProduceBase, kBrokers));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->bootstrap, "b:9093");
  EXPECT_EQ(o->topic, "t");
  EXPECT_EQ(o->count, 1000);
  EXPECT_EQ(o->rate, 0);
  EXPECT_EQ(o->duration, std::nullopt);
  EXPECT_EQ(o->size, 100);
  EXPECT_FALSE(o->from_stdin);
  EXPECT_FALSE(o->idempotent);
  EXPECT_EQ(o->acks, "all");
  EXPECT_EQ(o->transport.tls, TlsMode::kMayfly);
  EXPECT_EQ(o->transport.socket, "");
  ASSERT_EQ(o->transport.brokers.size(), 1u);
  EXPECT_EQ(o->transport.brokers[0].ToString(), "spiffe://example.org/kafka/*");
}

TEST(ProduceFlagsTest, EveryFlag) {
  absl::StatusOr<ProduceOptions> o = ParseProduce(
      With(kProduceBase, {"--count",
                          "0",
                          "--rate",
                          "500",
                          "--duration",
                          "30s",
                          "--size",
                          "64",
                          "--idempotent",
                          "--acks",
                          "all",
                          "--socket",
                          "/run/agent.sock",
                          "--spiffe-id",
                          "spiffe://example.org/client",
                          "--broker-spiffe-id",
                          "spiffe://example.org/b1,spiffe://example.org/b2",
                          "--broker-spiffe-id",
                          "spiffe://other.org/kafka/**",
                          "--property",
                          "linger.ms=10",
                          "--property",
                          "client.id=a=b"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->count, 0);
  EXPECT_EQ(o->rate, 500);
  EXPECT_EQ(o->duration, absl::Seconds(30));
  EXPECT_EQ(o->size, 64);
  EXPECT_TRUE(o->idempotent);
  EXPECT_EQ(o->transport.socket, "/run/agent.sock");
  EXPECT_EQ(o->transport.spiffe_id, "spiffe://example.org/client");
  ASSERT_EQ(o->transport.brokers.size(), 3u);
  EXPECT_EQ(o->transport.brokers[0].ToString(), "spiffe://example.org/b1");
  EXPECT_EQ(o->transport.brokers[2].ToString(), "spiffe://other.org/kafka/**");
  EXPECT_THAT(o->transport.properties,
              ElementsAre(Pair("linger.ms", "10"), Pair("client.id", "a=b")));
}

TEST(ProduceFlagsTest, StdinHasNoCountLimitUnlessGiven) {
  const std::vector<std::string> base = With(kProduceBase, kBrokers);
  EXPECT_EQ(ParseProduce(With(base, {"--stdin"}))->count, 0);
  EXPECT_EQ(ParseProduce(With(base, {"--stdin", "--count", "7"}))->count, 7);
}

TEST(ProduceFlagsTest, FilesAndNone) {
  absl::StatusOr<ProduceOptions> files = ParseProduce(
      With(With(kProduceBase, {"--tls", "files", "--svid-dir", "/run/svid"}),
           kBrokers));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->transport.tls, TlsMode::kFiles);
  EXPECT_EQ(files->transport.svid_dir, "/run/svid");
  EXPECT_EQ(ParseProduce(With(kProduceBase, {"--tls", "none"}))->transport.tls,
            TlsMode::kNone);
}

// One case per rule; each error names its flag.
TEST(ProduceFlagsTest, Errors) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--topic", "t"}, "missing required flag --bootstrap"},
      {{"--bootstrap", "b:1"}, "missing required flag --topic"},
      {With(kProduceBase, {"--count", "-1"}),
       "--count: want a whole number in [0, "},
      {With(kProduceBase, {"--count", "ten"}), "--count: want a whole number"},
      {With(kProduceBase, {"--count", "0"}),
       "--count: 0 (no limit) needs --duration or --stdin"},
      {With(kProduceBase, {"--rate", "-5"}), "--rate: want a whole number"},
      {With(kProduceBase, {"--size", "2000000000"}),
       "--size: want a whole number in [0, 1000000000]"},
      {With(kProduceBase, {"--duration", "10"}), "--duration: "},
      {With(kProduceBase, {"--acks", "-1"}),
       "--acks: want all, 1 or 0, not \"-1\""},
      {With(kProduceBase, {"--idempotent", "--acks", "1"}),
       "--idempotent: needs --acks all"},
      {With(kProduceBase, {"--tls", "ssl"}),
       "--tls: want mayfly, files or none, not \"ssl\""},
      {With(kProduceBase, {"--tls", "files"}),
       "missing required flag --svid-dir"},
      {With(kProduceBase, {"--svid-dir", "/d"}),
       "--svid-dir: only with --tls files"},
      {With(kProduceBase, {"--tls", "none", "--socket", "/s"}),
       "--socket: only with --tls mayfly"},
      {With(kProduceBase, {"--tls", "none", "--spiffe-id", "spiffe://a/b"}),
       "--spiffe-id: only with --tls mayfly"},
      {With(kProduceBase,
            {"--tls", "none", "--broker-spiffe-id", "spiffe://a/b"}),
       "--broker-spiffe-id: not with --tls none"},
      {With(kProduceBase, {"--spiffe-id", "http://a/b"}), "--spiffe-id: "},
      {With(kProduceBase, {"--broker-spiffe-id", "spiffe://A/b"}),
       "--broker-spiffe-id: "},
      {With(kProduceBase, {"--broker-spiffe-id", "spiffe://a/kafka-*"}),
       "--broker-spiffe-id: pattern wildcards must be a whole segment"},
      {With(kProduceBase, {"--trust-domain", "a"}),
       "unknown flag --trust-domain"},
      {With(kProduceBase, {"--property", "linger.ms"}),
       "--property: want NAME=VALUE, not \"linger.ms\""},
      {With(kProduceBase, {"--property", "=1"}), "--property: want NAME=VALUE"},
      {With(kProduceBase, {"--bogus"}), "unknown flag --bogus"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_THAT(ParseProduce(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr(message)))
        << message;
  }
}

// There is no default broker ID: every SVID can serve TLS, so "any ID of
// my trust domain" would take any workload for a broker.
TEST(TransportFlagsTest, MayflyAndFilesNeedTheBrokersIds) {
  const std::string message =
      "--broker-spiffe-id: required with --tls mayfly: the SPIFFE ID (or "
      "pattern, like spiffe://prod.acme/kafka/*) the brokers present";
  EXPECT_THAT(ParseProduce(kProduceBase),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
  EXPECT_THAT(ParseConsume(kConsumeBase),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
  // librdkafka's own TLS checks only the chain; the ID is checked too.
  EXPECT_THAT(
      ParseProduce(With(kProduceBase, {"--tls", "files", "--svid-dir", "/d"})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               Eq("--broker-spiffe-id: required with --tls files: the SPIFFE "
                  "ID (or pattern, like spiffe://prod.acme/kafka/*) the "
                  "brokers present")));
  EXPECT_TRUE(ParseProduce(With(kProduceBase, {"--tls", "none"})).ok());
}

TEST(ConsumeFlagsTest, DefaultsAndEveryFlag) {
  absl::StatusOr<ConsumeOptions> d = ParseConsume(With(kConsumeBase, kBrokers));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->group, "g");
  EXPECT_EQ(d->members, 1);
  EXPECT_EQ(d->count, 0);
  EXPECT_EQ(d->expect, std::nullopt);
  EXPECT_EQ(d->idle_timeout, std::nullopt);
  EXPECT_FALSE(d->from_beginning);
  EXPECT_FALSE(d->print);

  absl::StatusOr<ConsumeOptions> o = ParseConsume(
      With(kConsumeBase,
           {"--members", "2", "--count", "10", "--duration", "1m",
            "--idle-timeout", "5s", "--expect", "2000", "--from-beginning",
            "--ready-file", "/tmp/r", "--print", "--tls", "none"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->members, 2);
  EXPECT_EQ(o->count, 10);
  EXPECT_EQ(o->duration, absl::Minutes(1));
  EXPECT_EQ(o->idle_timeout, absl::Seconds(5));
  EXPECT_EQ(o->expect, 2000);
  EXPECT_TRUE(o->from_beginning);
  EXPECT_EQ(o->ready_file, "/tmp/r");
  EXPECT_TRUE(o->print);
  EXPECT_EQ(o->transport.tls, TlsMode::kNone);
}

TEST(ConsumeFlagsTest, Errors) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--bootstrap", "b:1", "--topic", "t"}, "missing required flag --group"},
      {With(kConsumeBase, {"--members", "0"}),
       "--members: want a whole number in [1, 64]"},
      {With(kConsumeBase, {"--members", "65"}), "--members: "},
      {With(kConsumeBase, {"--expect", "0"}), "--expect: want a whole number"},
      {With(kConsumeBase, {"--idle-timeout", "0s"}), "--idle-timeout: "},
      {With(kConsumeBase, {"--count", "x"}), "--count: "},
      {With(kConsumeBase, {"--tls", "files"}),
       "missing required flag --svid-dir"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_THAT(ParseConsume(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr(message)))
        << message;
  }
}

}  // namespace
}  // namespace mayfly::kafka::cli
