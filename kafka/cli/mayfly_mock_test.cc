// Both runs on --tls mayfly, the client library for real, against
// librdkafka's mock cluster behind the client library's TLS front
// (kafka/client/testing/fake_broker.h), which checks each client SVID as
// the broker plugin does: the soak's flow ends with nothing lost,
// duplicated or rebalanced and no auth error, and a broker that refuses
// the client's SVID shows up as auth_errors and failed deliveries.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/cli/consume.h"
#include "kafka/cli/produce.h"
#include "kafka/cli/steady_consumer.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka::cli {
namespace {

constexpr char kTopic[] = "seq";
constexpr int kPartitions = 3;
constexpr int64_t kMessages = 500;
constexpr char kClientId[] = "spiffe://example.org/ns/soak/sa/client";
constexpr char kBrokerId[] = "spiffe://example.org/kafka/broker";
// Bounds each run; a passing one takes a few seconds.
constexpr absl::Duration kPatience = absl::Seconds(60);

class MayflyMockTest : public ::testing::Test {
 protected:
  // One mock broker (its group coordinator too) behind one TLS front.
  void StartCluster(std::set<std::string> refused_ids = {}) {
    char errstr[512];
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), errstr,
                         sizeof(errstr));
    ASSERT_NE(host_, nullptr) << errstr;
    cluster_ = rd_kafka_mock_cluster_new(host_, 1);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, kPartitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    FakeBrokerOptions options;
    options.upstream = rd_kafka_mock_cluster_bootstraps(cluster_);
    options.refused_ids = std::move(refused_ids);
    auto front = FakeBroker::Start(
        test_pki::MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_),
        ca_.bundle, options);
    ASSERT_TRUE(front.ok()) << front.status();
    front_ = *std::move(front);
    source_->SetX509Bundle(ca_.bundle);
    source_->SetX509Svid(
        test_pki::MintSvid(ca_, kClientId, absl::Minutes(10), clock_));
  }

  void TearDown() override {
    front_.reset();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }

  // Every broker connection goes to the front: the mock advertises its own
  // plaintext listener.
  TransportOptions Mayfly() const {
    TransportOptions transport;
    transport.tls = TlsMode::kMayfly;
    transport.source = source_;
    transport.brokers = {*identity::SpiffeIdPattern::FromString(kBrokerId)};
    const std::string front = front_->address();
    transport.connect_to = [front](absl::string_view) { return front; };
    return transport;
  }

  ProduceOptions Produce() const {
    ProduceOptions options;
    options.bootstrap = rd_kafka_mock_cluster_bootstraps(cluster_);
    options.topic = kTopic;
    options.count = kMessages;
    options.idempotent = true;
    options.duration = kPatience;
    options.transport = Mayfly();
    return options;
  }

  RunEnv Env(std::ostringstream& err) {
    RunEnv env;
    env.in = &in_;
    env.out = &out_;
    env.err = &err;
    return env;
  }

  const identity::Clock& clock_ = identity::RealClock();
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  std::shared_ptr<identity::workload::FakeX509SvidSource> source_ =
      std::make_shared<identity::workload::FakeX509SvidSource>(clock_);
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::unique_ptr<FakeBroker> front_;
  std::istringstream in_;
  std::ostringstream out_;
};

TEST_F(MayflyMockTest, SoakFlowOnTheClientLibrary) {
  StartCluster();
  ConsumeOptions consume;
  consume.bootstrap = rd_kafka_mock_cluster_bootstraps(cluster_);
  consume.topic = kTopic;
  consume.group = "g";
  consume.members = 2;
  consume.count = kMessages;
  consume.expect = kMessages;
  consume.from_beginning = true;
  consume.duration = kPatience;
  consume.transport = Mayfly();
  // The mock coordinator waits a session timeout for members to rejoin.
  consume.transport.properties = {{"session.timeout.ms", "6000"}};
  std::ostringstream unused;
  SteadyConsumer consumer(consume, Env(unused));
  ASSERT_TRUE(consumer.WaitUntilSteady(kPatience)) << consumer.err();
  std::ostringstream produce_err;
  absl::StatusOr<ProduceSummary> produced =
      RunProduce(Produce(), Env(produce_err));
  absl::StatusOr<ConsumeSummary> consumed = consumer.Finish();
  ASSERT_TRUE(produced.ok()) << produced.status();
  EXPECT_EQ(produced->delivered, kMessages) << produce_err.str();
  EXPECT_EQ(produced->failed, 0);
  EXPECT_EQ(produced->auth_errors, 0);
  EXPECT_EQ(produced->rotations, 0);  // 10-minute SVIDs
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumer.err(), "");
  EXPECT_EQ(consumed->received, kMessages);
  EXPECT_EQ(consumed->distinct, kMessages);
  EXPECT_EQ(consumed->duplicated, 0);
  EXPECT_EQ(consumed->lost, 0);
  EXPECT_EQ(consumed->rebalances, 0);
  EXPECT_EQ(consumed->auth_errors, 0);
  EXPECT_EQ(ConsumeProblems(*consumed), "");
  // Every connection went through the front on the client's SVID.
  EXPECT_GT(front_->connections_accepted(), 0);
  for (const FakeBrokerConnection& c : front_->connections()) {
    EXPECT_EQ(c.client_id, kClientId) << c.index << ": " << c.error;
  }
}

TEST_F(MayflyMockTest, RefusedSvidIsAnAuthError) {
  StartCluster({kClientId});
  ProduceOptions produce = Produce();
  produce.count = 10;
  produce.transport.properties = {{"message.timeout.ms", "3000"}};
  std::ostringstream err;
  absl::StatusOr<ProduceSummary> produced = RunProduce(produce, Env(err));
  ASSERT_TRUE(produced.ok()) << produced.status();
  EXPECT_EQ(produced->sent, 10);
  EXPECT_EQ(produced->delivered, 0);
  EXPECT_EQ(produced->failed, 10);
  EXPECT_GT(produced->auth_errors, 0);
  EXPECT_EQ(ProduceProblems(*produced), "failed=10");
}

}  // namespace
}  // namespace mayfly::kafka::cli
