// KafkaIdentity with the real librdkafka 2.0.2 (kafka_identity_test_fixture.h),
// on its error paths: a refused SVID, a broker with another ID, no SVID,
// and an SVID that expires with no successor.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/spiffe_id.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/kafka_identity.h"
#include "kafka/client/kafka_identity_test_fixture.h"

namespace mayfly::kafka {
namespace {

using ::testing::HasSubstr;

TEST_F(KafkaIdentityTest, RefusedSvidIsCountedAndNoRequestIsForwarded) {
  broker_->Stop();
  StartBroker({kClientId});
  Observed observed;
  std::shared_ptr<KafkaIdentity> identity;
  rd_kafka_conf_t* conf = Conf(observed, {}, &identity);
  const ClientStats stats =
      PollUntil(conf, *identity, &ClientStats::svid_refused, 2);
  EXPECT_GE(stats.svid_refused, 2u);  // refused, and refused again on retry
  EXPECT_EQ(stats.connect_failures, stats.connections_opened);
  EXPECT_THAT(stats.last_error, HasSubstr("refused the X.509-SVID for " +
                                          std::string(kClientId)));
  // Nothing of librdkafka's reached the broker: only our probes did.
  for (const FakeBrokerConnection& c : broker_->connections()) {
    EXPECT_EQ(c.bytes_from_client, 0) << c.index;
  }
}

TEST_F(KafkaIdentityTest, BrokerWithAnotherIdIsRejected) {
  ClientOptions options;
  options.broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString("spiffe://prod.test/kafka/other")};
  Observed observed;
  std::shared_ptr<KafkaIdentity> identity;
  rd_kafka_conf_t* conf = Conf(observed, options, &identity);
  const ClientStats stats =
      PollUntil(conf, *identity, &ClientStats::peer_rejected, 1);
  EXPECT_GE(stats.peer_rejected, 1u);
  EXPECT_THAT(stats.last_error, HasSubstr(kBrokerId));
  for (const FakeBrokerConnection& c : broker_->connections()) {
    EXPECT_EQ(c.bytes_from_client, 0) << c.index;
  }
}

TEST_F(KafkaIdentityTest, NoSvidFailsTheConnectAtOnce) {
  auto empty = std::make_shared<identity::workload::FakeX509SvidSource>(clock_);
  ClientOptions options;
  Observed observed;
  std::shared_ptr<KafkaIdentity> identity;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", mock_address_);
  rd_kafka_conf_set_opaque(conf, &observed);
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  options.source = empty;
  options.broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString(kBrokerId)};
  absl::StatusOr<std::shared_ptr<KafkaIdentity>> configured =
      KafkaIdentity::Configure(conf, options);
  ASSERT_EQ(configured.status(), absl::OkStatus());
  const ClientStats stats =
      PollUntil(conf, **configured, &ClientStats::svid_unavailable, 1);
  EXPECT_GE(stats.svid_unavailable, 1u);
  EXPECT_EQ(stats.connections_opened, 0u);
  EXPECT_THAT(stats.last_error, HasSubstr("no X.509-SVID to present"));
  EXPECT_EQ(broker_->connections_accepted(), 0);
}

// The source stops renewing: the connection ends at its SVID's NotAfter,
// before the broker ever has to close it, and no new one opens.
TEST_F(KafkaIdentityTest, ExpiryWithNoSuccessorClosesBeforeTheBrokerMust) {
  Observed observed;
  std::shared_ptr<KafkaIdentity> identity;
  rd_kafka_conf_t* conf = Conf(observed, {}, &identity);
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(rk, nullptr) << error;
  // Metadata requests keep the connection busy past the SVID's 6 s.
  const absl::Time deadline = absl::Now() + kClientTtl + absl::Seconds(3);
  while (absl::Now() < deadline) {
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(rk, 0, nullptr, &metadata, 200) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_poll(rk, 100);
  }
  rd_kafka_destroy(rk);
  const ClientStats stats = identity->Stats();
  EXPECT_EQ(broker_->expired_closes(), 0);
  EXPECT_GE(stats.svid_unavailable, 1u);
  EXPECT_EQ(stats.rotations, 0u);
  EXPECT_GE(stats.overdue_rotations, 1u);
}

}  // namespace
}  // namespace mayfly::kafka
