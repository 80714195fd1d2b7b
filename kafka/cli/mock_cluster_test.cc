// Both runs end to end on --tls none against librdkafka's in-process mock
// cluster (rdkafka_mock.h: real brokers on loopback, with a group
// coordinator and idempotent producer support): the soak's flow (the group
// gets steady, then an idempotent producer sends), and a duplicate and a
// loss that the consumer must report.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <sstream>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "kafka/cli/consume.h"
#include "kafka/cli/produce.h"
#include "kafka/cli/steady_consumer.h"

namespace mayfly::kafka::cli {
namespace {

constexpr char kTopic[] = "seq";
constexpr int kPartitions = 3;
constexpr int kBrokers = 3;
constexpr int64_t kMessages = 2000;
// Bounds each run; a passing one takes a few seconds.
constexpr absl::Duration kPatience = absl::Seconds(90);

class MockClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char errstr[512];
    // The mock cluster runs on a handle of its own.
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ASSERT_NE(host_, nullptr) << errstr;
    cluster_ = rd_kafka_mock_cluster_new(host_, kBrokers);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, kPartitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }

  void TearDown() override {
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_ != nullptr) rd_kafka_destroy(host_);
  }

  ProduceOptions Produce() const {
    ProduceOptions options;
    options.bootstrap = bootstrap_;
    options.topic = kTopic;
    options.count = kMessages;
    options.idempotent = true;
    options.duration = kPatience;
    options.transport.tls = TlsMode::kNone;
    return options;
  }

  ConsumeOptions Consume() const {
    ConsumeOptions options;
    options.bootstrap = bootstrap_;
    options.topic = kTopic;
    options.group = "g";
    options.members = 2;
    options.expect = kMessages;
    options.from_beginning = true;
    options.duration = kPatience;
    options.transport.tls = TlsMode::kNone;
    // The mock coordinator waits a session timeout for members to rejoin.
    options.transport.properties = {{"session.timeout.ms", "6000"}};
    return options;
  }

  RunEnv Env() {
    RunEnv env;
    env.in = &in_;
    env.out = &out_;
    env.err = &err_;
    return env;
  }

  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  std::istringstream in_;
  std::ostringstream out_;
  std::ostringstream err_;
};

// The soak's flow: the group is steady, then the producer starts.
TEST_F(MockClusterTest, TwoMemberGroupGetsEveryIdempotentMessageOnce) {
  ConsumeOptions consume = Consume();
  consume.count = kMessages;
  SteadyConsumer consumer(consume, Env());
  ASSERT_TRUE(consumer.WaitUntilSteady(kPatience)) << consumer.err();

  absl::StatusOr<ProduceSummary> produced = RunProduce(Produce(), Env());
  absl::StatusOr<ConsumeSummary> consumed = consumer.Finish();
  ASSERT_TRUE(produced.ok()) << produced.status();
  EXPECT_EQ(produced->sent, kMessages);
  EXPECT_EQ(produced->delivered, kMessages);
  EXPECT_EQ(produced->failed, 0);
  EXPECT_GT(produced->p99, absl::ZeroDuration());
  EXPECT_GE(produced->p99, produced->p50);
  EXPECT_EQ(produced->auth_errors, 0);
  EXPECT_EQ(err_.str(), "");

  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumed->received, kMessages);
  EXPECT_EQ(consumed->distinct, kMessages);
  EXPECT_EQ(consumed->duplicated, 0);
  EXPECT_EQ(consumed->lost, 0);
  EXPECT_EQ(consumed->rebalances, 0);
  EXPECT_EQ(ConsumeProblems(*consumed), "");
  EXPECT_EQ(consumer.err(), "");
}

// One sequence number sent twice and one never: the consumer says so.
TEST_F(MockClusterTest, ConsumerReportsADuplicateAndALoss) {
  ConsumeOptions consume = Consume();
  consume.expect = kMessages + 1;  // kMessages is never sent
  consume.idle_timeout = absl::Seconds(3);
  SteadyConsumer consumer(consume, Env());
  ASSERT_TRUE(consumer.WaitUntilSteady(kPatience)) << consumer.err();

  ASSERT_TRUE(RunProduce(Produce(), Env()).ok());
  in_.str("5\tseq=5 again\n");
  ProduceOptions again = Produce();
  again.from_stdin = true;
  again.count = 0;
  absl::StatusOr<ProduceSummary> duplicate = RunProduce(again, Env());
  ASSERT_TRUE(duplicate.ok()) << duplicate.status();
  EXPECT_EQ(duplicate->delivered, 1);

  absl::StatusOr<ConsumeSummary> consumed = consumer.Finish();
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumed->received, kMessages + 1);
  EXPECT_EQ(consumed->distinct, kMessages);
  EXPECT_EQ(consumed->duplicated, 1);
  EXPECT_EQ(consumed->lost, 1);
  EXPECT_EQ(consumed->rebalances, 0);
  EXPECT_EQ(ConsumeProblems(*consumed), "duplicated=1 lost=1");
  // Sent twice: the copy is at another offset than the first.
  EXPECT_NE(consumer.err().find("consume: duplicate seq=5 at partition "),
            std::string::npos)
      << consumer.err();
}

// JoinsAndLeaves: a third member of group "g" until it has been assigned
// partitions (its join rebalances the run's two members), then it leaves.
void JoinsAndLeaves(const std::string& bootstrap) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] :
       {std::pair<const char*, std::string>{"bootstrap.servers", bootstrap},
        {"group.id", "g"},
        {"session.timeout.ms", "6000"}}) {
    ASSERT_EQ(
        rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK)
        << errstr;
  }
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  ASSERT_NE(rk, nullptr) << errstr;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, kTopic, RD_KAFKA_PARTITION_UA);
  EXPECT_EQ(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  const absl::Time deadline = absl::Now() + kPatience;
  bool assigned = false;
  while (!assigned && absl::Now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk, 100);
    if (message != nullptr) rd_kafka_message_destroy(message);
    rd_kafka_topic_partition_list_t* held = nullptr;
    if (rd_kafka_assignment(rk, &held) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      assigned = held->cnt > 0;
      rd_kafka_topic_partition_list_destroy(held);
    }
  }
  EXPECT_TRUE(assigned) << "the third member never got a partition";
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

// A member joining a steady group rebalances it: the run counts that, and
// says when on stderr (the cluster soak tells a broker restart's rebalances
// from others by these times).
TEST_F(MockClusterTest, RebalanceAfterSteadyIsCountedAndTimed) {
  ConsumeOptions consume = Consume();
  consume.count = kMessages;
  SteadyConsumer consumer(consume, Env());
  ASSERT_TRUE(consumer.WaitUntilSteady(kPatience)) << consumer.err();
  const int64_t joined_ms = absl::ToUnixMillis(absl::Now());
  JoinsAndLeaves(bootstrap_);

  ASSERT_TRUE(RunProduce(Produce(), Env()).ok());
  absl::StatusOr<ConsumeSummary> consumed = consumer.Finish();
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_GT(consumed->rebalances, 0);
  const std::string err = consumer.err();
  const std::string line = "consume: rebalance at ";
  const size_t at = err.find(line);
  ASSERT_NE(at, std::string::npos) << err;
  const int64_t logged_ms = std::stoll(err.substr(at + line.size()));
  EXPECT_GE(logged_ms, joined_ms) << err;
  EXPECT_LE(logged_ms, absl::ToUnixMillis(absl::Now())) << err;
}

// Keys and values from stdin, printed as they arrive.
TEST_F(MockClusterTest, StdinMessagesArePrinted) {
  in_.str("k1\tv1\nvalue only\n");
  ProduceOptions produce = Produce();
  produce.from_stdin = true;
  produce.count = 0;
  absl::StatusOr<ProduceSummary> produced = RunProduce(produce, Env());
  ASSERT_TRUE(produced.ok()) << produced.status();
  EXPECT_EQ(produced->delivered, 2);

  ConsumeOptions consume = Consume();
  consume.members = 1;
  consume.expect.reset();
  consume.count = 2;  // neither has a sequence number: both are distinct
  consume.print = true;
  absl::StatusOr<ConsumeSummary> consumed = RunConsume(consume, Env());
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumed->received, 2);
  // One partition each or both in one: in either order.
  const std::string out = out_.str();
  EXPECT_TRUE(out == "k1\tv1\n\tvalue only\n" ||
              out == "\tvalue only\nk1\tv1\n")
      << out;
}

TEST(GeneratedValueTest, SequenceNumberThenPadding) {
  EXPECT_EQ(GeneratedValue(42, 12), "seq=42 xxxxx");
  EXPECT_EQ(GeneratedValue(42, 0), "seq=42 ");  // never cut
  EXPECT_EQ(GeneratedValue(1234567, 5), "seq=1234567 ");
}

}  // namespace
}  // namespace mayfly::kafka::cli
