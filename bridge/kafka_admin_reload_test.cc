// Tests for the reload request: every dynamic config carried over, the
// effective locations under the listener's prefix, refusals that send nothing.
#include "bridge/kafka_admin_reload.h"

#include "bridge/kafka_admin_fake.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

BrokerConfigEntry Entry(std::string name, std::optional<std::string> value,
                        ConfigSource source, bool sensitive = false) {
  return {std::move(name), std::move(value), source, sensitive, false};
}

// A broker started with PEM files in server.properties and nothing dynamic.
std::vector<BrokerConfigEntry> StaticBroker() {
  return {
      Entry("ssl.keystore.location", "/run/kafka/svid_keystore.pem",
            ConfigSource::kStaticBroker),
      Entry("ssl.truststore.location", "/run/kafka/svid_bundle.pem",
            ConfigSource::kStaticBroker),
      Entry("ssl.keystore.type", "PEM", ConfigSource::kStaticBroker),
      Entry("ssl.keystore.password", std::nullopt, ConfigSource::kDefault,
            true),
      Entry("log.retention.hours", "168", ConfigSource::kDefault),
      Entry("num.network.threads", "5", ConfigSource::kStaticBroker),
  };
}

TEST(ReloadConfigsTest, SetsTheStaticLocationsUnderTheListenerPrefix) {
  absl::StatusOr<ReloadRequestConfigs> r = ReloadConfigs(StaticBroker(), "SSL");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->configs,
              ElementsAre(Pair("listener.name.ssl.ssl.keystore.location",
                               "/run/kafka/svid_keystore.pem"),
                          Pair("listener.name.ssl.ssl.truststore.location",
                               "/run/kafka/svid_bundle.pem")));
  EXPECT_THAT(r->carried_over, IsEmpty());
  EXPECT_EQ(r->network_threads, 5);
}

TEST(ReloadConfigsTest, CarriesOverDynamicConfigsAndPrefersTheListenerOnes) {
  std::vector<BrokerConfigEntry> entries = StaticBroker();
  entries.push_back(Entry("listener.name.internal.ssl.keystore.location",
                          "/run/new/keystore.pem",
                          ConfigSource::kDynamicBroker));
  entries.push_back(
      Entry("log.cleaner.threads", "2", ConfigSource::kDynamicBroker));
  entries.push_back(
      Entry("num.io.threads", "16", ConfigSource::kDynamicDefaultBroker));
  absl::StatusOr<ReloadRequestConfigs> r = ReloadConfigs(entries, "Internal");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->configs,
              ElementsAre(Pair("listener.name.internal.ssl.keystore.location",
                               "/run/new/keystore.pem"),
                          Pair("listener.name.internal.ssl.truststore.location",
                               "/run/kafka/svid_bundle.pem"),
                          Pair("log.cleaner.threads", "2")));
  EXPECT_THAT(r->carried_over,
              ElementsAre("listener.name.internal.ssl.keystore.location",
                          "log.cleaner.threads"));
}

TEST(ReloadConfigsTest, RefusesWhenASensitiveDynamicConfigWouldBeLost) {
  std::vector<BrokerConfigEntry> entries = StaticBroker();
  entries.push_back(Entry("listener.name.ssl.ssl.key.password", std::nullopt,
                          ConfigSource::kDynamicBroker, true));
  EXPECT_THAT(ReloadConfigs(entries, "SSL"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("per-broker dynamic config "
                                 "listener.name.ssl.ssl.key.password, which is "
                                 "sensitive: its value is hidden")));
}

TEST(ReloadConfigsTest, RefusesAListenerWithNoFiles) {
  EXPECT_THAT(ReloadConfigs({Entry("ssl.keystore.type", "PEM",
                                   ConfigSource::kStaticBroker)},
                            "SSL"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("neither "
                                 "listener.name.ssl.ssl.keystore.location nor "
                                 "ssl.keystore.location")));
}

TEST(ReloadListenerFilesTest, DescribesThenAltersThatNode) {
  FakeBrokerConfigAdmin admin;
  admin.entries = StaticBroker();
  absl::StatusOr<ReloadRequestConfigs> r = ReloadListenerFiles(admin, 7, "SSL");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(admin.nodes_described, ElementsAre(7));
  ASSERT_THAT(admin.altered, ::testing::SizeIs(1));
  EXPECT_EQ(admin.altered[0], r->configs);
}

TEST(ReloadListenerFilesTest, SendsNothingWhenItMustRefuse) {
  FakeBrokerConfigAdmin admin;
  admin.entries = StaticBroker();
  admin.entries.push_back(Entry("ssl.keystore.key", std::nullopt,
                                ConfigSource::kDynamicBroker, true));
  EXPECT_THAT(ReloadListenerFiles(admin, 1, "SSL"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("ssl.keystore.key")));
  EXPECT_THAT(admin.altered, IsEmpty());
}

TEST(ReloadListenerFilesTest, PassesOnTheBrokersRefusal) {
  FakeBrokerConfigAdmin admin;
  admin.entries = StaticBroker();
  admin.alter_status = absl::InvalidArgumentError(
      "INVALID_REQUEST: Keystore DistinguishedName does not match");
  EXPECT_THAT(ReloadListenerFiles(admin, 1, "SSL"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("DistinguishedName does not match")));
}

}  // namespace
}  // namespace mayfly::bridge
