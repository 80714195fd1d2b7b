// KafkaIdentity with the real librdkafka 2.0.2 (kafka_identity_test_fixture.h):
// an idempotent producer and a consumer group ride rotations with no
// error, loss, duplicate or rebalance.
#include "kafka/client/kafka_identity.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka/client/kafka_identity_test_fixture.h"

namespace mayfly::kafka {
namespace {

TEST_F(KafkaIdentityTest, IdempotentProducerRotatesWithNoErrorOrLoss) {
  Observed observed;
  std::shared_ptr<KafkaIdentity> identity;
  rd_kafka_conf_t* conf = Conf(observed, {}, &identity);
  ASSERT_NE(identity, nullptr);
  Set(conf, "enable.idempotence", "true");
  Set(conf, "linger.ms", "5");
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCallback);
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(rk, nullptr) << error;
  EXPECT_EQ(identity->VerifyHandle(rk), absl::OkStatus());
  StartRenewing();

  // 13 s: each 6 s SVID is replaced every 3 s, so each connection moves
  // about 4 times; the broker would close one still on an SVID past NotAfter.
  Produce(rk, 2000, absl::Seconds(13));
  StopRenewing();
  rd_kafka_destroy(rk);

  const ClientStats stats = identity->Stats();
  std::cout << "delivered=" << observed.delivered.load()
            << " connections=" << stats.connections_opened
            << " rotations=" << stats.rotations
            << " handshakes=" << broker_->connections_accepted()
            << " overdue=" << stats.overdue_rotations
            << " forced_overlaps=" << stats.forced_overlaps << "\n";
  EXPECT_EQ(observed.delivered.load(), 2000) << observed.Lines();
  EXPECT_EQ(observed.failed.load(), 0) << observed.Lines();
  EXPECT_EQ(observed.warnings.load(), 0) << observed.Lines();
  EXPECT_EQ(observed.errors.load(), 0) << observed.Lines();
  EXPECT_EQ(broker_->expired_closes(), 0);
  EXPECT_GE(stats.connections_opened, 1u);
  EXPECT_EQ(stats.connect_failures, 0u) << stats.last_error;
  EXPECT_EQ(stats.upstream_closed, 0u) << stats.last_error;
  // Each connection open for the whole 13 s moves at least 3 times.
  EXPECT_GE(stats.rotations, 3u) << stats.last_error;
  EXPECT_EQ(stats.rotation_failures, 0u) << stats.last_error;
  // The mock's high watermarks: every message once (no duplicate).
  // (Checked through the consumer test's count below.)
  // Every SVID the broker saw was a valid client SVID of ours.
  for (const FakeBrokerConnection& c : broker_->connections()) {
    EXPECT_TRUE(c.handshake_ok) << c.error;
    EXPECT_EQ(c.client_id, kClientId);
    EXPECT_EQ(c.client_chain_length, 2);
  }
  // Rotations are new upstreams: more handshakes than librdkafka connects.
  EXPECT_EQ(static_cast<uint64_t>(broker_->connections_accepted()),
            stats.connections_opened + stats.rotations);
}

// One member of a consumer group: counts messages by key and the rebalance
// callbacks after its first assignment.
// Owns its handle: a test that fails early must not leave it running with
// a pointer to its stack (seen under TSan: a later test's stack written by
// the failed test's broker thread).
struct Member {
  ~Member() {
    if (rk == nullptr) return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  rd_kafka_t* rk = nullptr;
  std::atomic<int> assignments{0};
  std::atomic<int> revocations{0};
};

void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* partitions,
                       void* /*opaque*/) {
  auto* member =
      static_cast<Member*>(static_cast<Observed*>(rd_kafka_opaque(rk))->member);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    ++member->assignments;
    rd_kafka_assign(rk, partitions);
  } else {
    ++member->revocations;
    rd_kafka_assign(rk, nullptr);
  }
}

TEST_F(KafkaIdentityTest, ConsumerGroupRotatesWithNoRebalanceOrDuplicate) {
  constexpr int kMessages = 1500;
  Observed observed[2];
  Member members[2];  // after `observed`: destroyed before it
  std::shared_ptr<KafkaIdentity> identity[2];
  char error[512];
  StartRenewing();
  for (int i = 0; i < 2; ++i) {
    observed[i].member = &members[i];
    rd_kafka_conf_t* conf = Conf(observed[i], {}, &identity[i]);
    ASSERT_NE(identity[i], nullptr);
    Set(conf, "group.id", "relay-test");
    Set(conf, "auto.offset.reset", "earliest");
    Set(conf, "fetch.wait.max.ms", "100");
    // Closing one member rebalances the other, whose commit of revoked
    // partitions then fails at WARNING: a close artefact, not a rotation's.
    Set(conf, "enable.auto.commit", "false");
    rd_kafka_conf_set_rebalance_cb(conf, RebalanceCallback);
    members[i].rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    ASSERT_NE(members[i].rk, nullptr) << error;
    rd_kafka_poll_set_consumer(members[i].rk);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, kTopic, RD_KAFKA_PARTITION_UA);
    ASSERT_EQ(rd_kafka_subscribe(members[i].rk, topics),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
  }
  // Poll both until the group is steady: each member has been assigned
  // partitions, and then nothing changed for 3 s (bounded by 60 s).
  std::map<std::string, int> seen;
  auto poll_both = [&] {
    for (Member& member : members) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(member.rk, 50);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++seen[std::string(static_cast<const char*>(message->key),
                           message->key_len)];
      }
      rd_kafka_message_destroy(message);
    }
  };
  auto changes = [&] {
    return members[0].assignments + members[0].revocations +
           members[1].assignments + members[1].revocations;
  };
  const absl::Time steady_deadline = absl::Now() + absl::Seconds(60);
  int last_changes = -1;
  absl::Time last_change_at = absl::Now();
  while (absl::Now() < steady_deadline) {
    poll_both();
    if (changes() != last_changes) {
      last_changes = changes();
      last_change_at = absl::Now();
    }
    if (members[0].assignments > 0 && members[1].assignments > 0 &&
        absl::Now() - last_change_at > absl::Seconds(3)) {
      break;
    }
  }
  ASSERT_GT(members[0].assignments.load(), 0) << "the group never settled";
  ASSERT_GT(members[1].assignments.load(), 0) << "the group never settled";
  const int assignments_at_steady =
      members[0].assignments + members[1].assignments;
  const int revocations_at_steady =
      members[0].revocations + members[1].revocations;

  // A producer sends while the consumers' SVIDs rotate.
  Observed producer_observed;
  std::shared_ptr<KafkaIdentity> producer_identity;
  rd_kafka_conf_t* conf = Conf(producer_observed, {}, &producer_identity);
  Set(conf, "enable.idempotence", "true");
  rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCallback);
  rd_kafka_t* producer =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(producer, nullptr) << error;
  std::thread produce([&] { Produce(producer, kMessages, absl::Seconds(12)); });
  const absl::Time deadline = absl::Now() + absl::Seconds(40);
  while (static_cast<int>(seen.size()) < kMessages && absl::Now() < deadline) {
    poll_both();
  }
  produce.join();
  StopRenewing();
  // A little longer: a duplicate would arrive now.
  for (int i = 0; i < 10; ++i) poll_both();
  rd_kafka_destroy(producer);
  for (Member& member : members) {
    rd_kafka_consumer_close(member.rk);
    rd_kafka_destroy(member.rk);
    member.rk = nullptr;
  }

  int duplicates = 0;
  for (const auto& [key, count] : seen) duplicates += count - 1;
  EXPECT_EQ(static_cast<int>(seen.size()), kMessages);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(producer_observed.delivered.load(), kMessages);
  // No rebalance after the group was steady, until the close.
  EXPECT_EQ(members[0].assignments + members[1].assignments,
            assignments_at_steady);
  EXPECT_EQ(members[0].revocations + members[1].revocations,
            revocations_at_steady + 2);  // the two closes
  for (int i = 0; i < 2; ++i) {
    const ClientStats stats = identity[i]->Stats();
    std::cout << "member " << i << ": connections=" << stats.connections_opened
              << " rotations=" << stats.rotations << "\n";
    EXPECT_EQ(observed[i].warnings.load(), 0) << observed[i].Lines();
    EXPECT_EQ(observed[i].errors.load(), 0) << observed[i].Lines();
    EXPECT_GE(stats.rotations, 3u);
    EXPECT_EQ(stats.upstream_closed, 0u) << stats.last_error;
  }
  EXPECT_EQ(broker_->expired_closes(), 0);
}

}  // namespace
}  // namespace mayfly::kafka
