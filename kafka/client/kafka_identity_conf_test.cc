// KafkaIdentity::Configure's checks and what it sets on a conf; no broker.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/kafka_identity.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

class ConfigureTest : public ::testing::Test {
 protected:
  ~ConfigureTest() override {
    if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
  }

  void Set(const char* name, const char* value) {
    char error[512];
    ASSERT_EQ(rd_kafka_conf_set(conf_, name, value, error, sizeof(error)),
              RD_KAFKA_CONF_OK)
        << error;
  }

  std::string Get(const char* name) {
    char value[512];
    size_t size = sizeof(value);
    EXPECT_EQ(rd_kafka_conf_get(conf_, name, value, &size), RD_KAFKA_CONF_OK);
    return value;
  }

  ClientOptions Options() {
    ClientOptions options;
    options.source = source_;
    options.broker_policy.brokers = {
        *identity::SpiffeIdPattern::FromString("spiffe://example.org/kafka/*")};
    return options;
  }

  std::shared_ptr<identity::workload::FakeX509SvidSource> source_ =
      std::make_shared<identity::workload::FakeX509SvidSource>(
          identity::RealClock());
  rd_kafka_conf_t* conf_ = rd_kafka_conf_new();
};

TEST_F(ConfigureTest, ForcesPlaintextToTheRelayAndKeepsNagleOff) {
  Set("socket.nagle.disable", "true");
  ASSERT_EQ(KafkaIdentity::Configure(conf_, Options()).status(),
            absl::OkStatus());
  EXPECT_EQ(Get("security.protocol"), "plaintext");
  // TCP_NODELAY fails on the socketpair (librdkafka would warn per
  // connect); the relay sets it on the real socket.
  EXPECT_EQ(Get("socket.nagle.disable"), "false");
  EXPECT_EQ(Get("api.version.request"), "true");
  EXPECT_EQ(Get("api.version.fallback.ms"), "0");
}

TEST_F(ConfigureTest, RefusesAnotherSecurityProtocol) {
  Set("security.protocol", "ssl");
  EXPECT_THAT(KafkaIdentity::Configure(conf_, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("security.protocol is \"ssl\"")));
}

TEST_F(ConfigureTest, RefusesSslProperties) {
  Set("ssl.key.location", "/etc/client.key");
  EXPECT_THAT(KafkaIdentity::Configure(conf_, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ssl.key.location is set")));
}

TEST_F(ConfigureTest, RefusesSaslProperties) {
  Set("sasl.mechanisms", "PLAIN");
  EXPECT_THAT(KafkaIdentity::Configure(conf_, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sasl.mechanisms is set")));
}

int OtherSocket(int, int, int, void*) { return -1; }

TEST_F(ConfigureTest, RefusesTheApplicationsOwnSocketHook) {
  rd_kafka_conf_set_socket_cb(conf_, OtherSocket);
  EXPECT_THAT(KafkaIdentity::Configure(conf_, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("socket_cb is set")));
}

TEST_F(ConfigureTest, RefusesNoSource) {
  EXPECT_THAT(KafkaIdentity::Configure(conf_, ClientOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("source is required")));
}

TEST_F(ConfigureTest, RefusesNoBrokerIds) {
  ClientOptions options = Options();
  options.broker_policy.brokers.clear();
  EXPECT_THAT(KafkaIdentity::Configure(conf_, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("ClientOptions.broker_policy.brokers is required: "
                          "the SPIFFE IDs (patterns) the brokers present, "
                          "like spiffe://prod.acme/kafka/*")));
}

TEST_F(ConfigureTest, RefusesABadRotationPolicy) {
  ClientOptions options = Options();
  options.rotation.rotate_at_fraction = 1.5;
  EXPECT_THAT(KafkaIdentity::Configure(conf_, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ClientOptions.rotation")));
}

TEST_F(ConfigureTest, RefusesASecondConfigure) {
  ASSERT_EQ(KafkaIdentity::Configure(conf_, Options()).status(),
            absl::OkStatus());
  EXPECT_THAT(KafkaIdentity::Configure(conf_, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("socket_cb is set")));
}

// The conf's interceptors hold the identity: the application may drop its
// reference, and the conf's destruction releases it.
TEST_F(ConfigureTest, TheConfKeepsTheIdentityAlive) {
  absl::StatusOr<std::shared_ptr<KafkaIdentity>> identity =
      KafkaIdentity::Configure(conf_, Options());
  ASSERT_EQ(identity.status(), absl::OkStatus());
  std::weak_ptr<KafkaIdentity> weak = *identity;
  identity->reset();
  EXPECT_FALSE(weak.expired());
  rd_kafka_conf_t* copy = rd_kafka_conf_dup(conf_);
  rd_kafka_conf_destroy(conf_);
  conf_ = nullptr;
  EXPECT_FALSE(weak.expired());  // the copy re-registered its own reference
  rd_kafka_conf_destroy(copy);
  EXPECT_TRUE(weak.expired());
}

TEST_F(ConfigureTest, VerifyHandleRefusesAHandleFromAnotherConf) {
  absl::StatusOr<std::shared_ptr<KafkaIdentity>> identity =
      KafkaIdentity::Configure(conf_, Options());
  ASSERT_EQ(identity.status(), absl::OkStatus());
  char error[512];
  rd_kafka_t* plain = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(),
                                   error, sizeof(error));
  ASSERT_NE(plain, nullptr) << error;
  EXPECT_THAT((*identity)->VerifyHandle(plain),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not made from a conf")));
  rd_kafka_destroy(plain);

  rd_kafka_t* ours =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf_, error, sizeof(error));
  ASSERT_NE(ours, nullptr) << error;
  conf_ = nullptr;  // rd_kafka_new took it
  EXPECT_EQ((*identity)->VerifyHandle(ours), absl::OkStatus());
  rd_kafka_destroy(ours);
}

}  // namespace
}  // namespace mayfly::kafka
