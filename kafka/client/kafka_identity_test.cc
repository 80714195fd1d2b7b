// KafkaIdentity with the real librdkafka 2.0.2: its in-process mock cluster
// behind a TLS front (testing/fake_broker.h) that, like the broker plugin,
// requires the client's SVID and closes a connection at the first read
// after that SVID's NotAfter. SVIDs live 6 s and are renewed every 3 s (the
// agent renews at half life), so every connection must move several times.
#include "kafka/client/kafka_identity.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

constexpr char kClientId[] = "spiffe://prod.test/ns/orders/sa/writer";
constexpr char kBrokerId[] = "spiffe://prod.test/kafka/broker";
constexpr char kTopic[] = "orders";
constexpr absl::Duration kClientTtl = absl::Seconds(6);
constexpr absl::Duration kRenewEvery = absl::Seconds(3);

// What librdkafka told the application: logs at WARNING or worse, error_cb
// calls, delivery reports.
struct Observed {
  void* member = nullptr;  // the consumer test's Member
  std::atomic<int> warnings{0};
  std::atomic<int> errors{0};
  std::atomic<int> delivered{0};
  std::atomic<int> failed{0};
  absl::Mutex mu;
  std::vector<std::string> lines ABSL_GUARDED_BY(mu);

  void Note(std::string line) {
    absl::MutexLock lock(&mu);
    if (lines.size() < 20) lines.push_back(std::move(line));
  }
  std::string Lines() {
    absl::MutexLock lock(&mu);
    std::string out;
    for (const auto& l : lines) absl::StrAppend(&out, l, "\n");
    return out;
  }
};

void LogCallback(const rd_kafka_t* rk, int level, const char* facility,
                 const char* message) {
  auto* observed = static_cast<Observed*>(rd_kafka_opaque(rk));
  if (level <= 4) {
    ++observed->warnings;
    observed->Note(absl::StrCat("log ", level, " ", facility, ": ", message));
  }
}

void ErrorCallback(rd_kafka_t* /*rk*/, int err, const char* reason,
                   void* opaque) {
  auto* observed = static_cast<Observed*>(opaque);
  ++observed->errors;
  observed->Note(absl::StrCat(
      "error_cb ", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
      ": ", reason));
}

void DeliveryCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message,
                      void* opaque) {
  auto* observed = static_cast<Observed*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++observed->delivered;
  } else {
    ++observed->failed;
    observed->Note(absl::StrCat("delivery: ", rd_kafka_err2str(message->err)));
  }
}

// Makes a producer of `conf` (taken), polls it every 50 ms until
// `counter` of `identity`'s stats reaches `at_least` or 10 s have passed,
// destroys it, and returns the stats then. A conf librdkafka refuses is a
// test failure.
ClientStats PollUntil(rd_kafka_conf_t* conf, const KafkaIdentity& identity,
                      uint64_t ClientStats::*counter, uint64_t at_least) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (rk == nullptr) {
    ADD_FAILURE() << "rd_kafka_new: " << error;
    rd_kafka_conf_destroy(conf);
    return identity.Stats();
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (identity.Stats().*counter < at_least && absl::Now() < deadline) {
    rd_kafka_poll(rk, 50);
  }
  rd_kafka_destroy(rk);
  return identity.Stats();
}

class KafkaIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[512];
    rd_kafka_conf_t* mock_conf = rd_kafka_conf_new();
    mock_host_ =
        rd_kafka_new(RD_KAFKA_PRODUCER, mock_conf, error, sizeof(error));
    ASSERT_NE(mock_host_, nullptr) << error;
    cluster_ = rd_kafka_mock_cluster_new(mock_host_, 1);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, 3, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    mock_address_ = rd_kafka_mock_cluster_bootstraps(cluster_);

    source_->SetX509Bundle(ca_.bundle);
    Renew();
    StartBroker({});
  }

  void TearDown() override {
    StopRenewing();
    if (broker_ != nullptr) broker_->Stop();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (mock_host_ != nullptr) rd_kafka_destroy(mock_host_);
  }

  void StartBroker(std::set<std::string> refused) {
    FakeBrokerOptions options;
    options.upstream = mock_address_;
    options.refused_ids = std::move(refused);
    options.max_connections = 200;
    absl::StatusOr<std::unique_ptr<FakeBroker>> broker = FakeBroker::Start(
        test_pki::MintSvid(ca_, kBrokerId, absl::Hours(1), clock_), ca_.bundle,
        options);
    ASSERT_EQ(broker.status(), absl::OkStatus());
    broker_ = *std::move(broker);
  }

  // A fresh client SVID, as the agent hands one out at half life.
  void Renew() {
    source_->SetX509Svid(
        test_pki::MintSvid(ca_, kClientId, kClientTtl, clock_));
  }

  void StartRenewing() {
    renewer_ = std::thread([this] {
      // Bounded: at most a minute of renewals.
      for (int i = 0; i < 30 && !stop_renewing_.load(); ++i) {
        for (int t = 0; t < 20 && !stop_renewing_.load(); ++t) {
          absl::SleepFor(kRenewEvery / 20);
        }
        if (!stop_renewing_.load()) Renew();
      }
    });
  }

  void StopRenewing() {
    stop_renewing_ = true;
    if (renewer_.joinable()) renewer_.join();
  }

  // A conf for `observed` with KafkaIdentity configured on it.
  rd_kafka_conf_t* Conf(Observed& observed, ClientOptions options,
                        std::shared_ptr<KafkaIdentity>* identity) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    Set(conf, "bootstrap.servers", mock_address_);
    rd_kafka_conf_set_opaque(conf, &observed);
    rd_kafka_conf_set_log_cb(conf, LogCallback);
    rd_kafka_conf_set_error_cb(conf, ErrorCallback);
    options.source = source_;
    if (options.broker_policy.brokers.empty()) {
      options.broker_policy.brokers = {
          *identity::SpiffeIdPattern::FromString(kBrokerId)};
    }
    const std::string front = broker_->address();
    options.connect_to = [front](absl::string_view) { return front; };
    absl::StatusOr<std::shared_ptr<KafkaIdentity>> configured =
        KafkaIdentity::Configure(conf, std::move(options));
    EXPECT_EQ(configured.status(), absl::OkStatus());
    if (configured.ok()) *identity = *std::move(configured);
    return conf;
  }

  static void Set(rd_kafka_conf_t* conf, const char* name,
                  const std::string& value) {
    char error[512];
    ASSERT_EQ(
        rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)),
        RD_KAFKA_CONF_OK)
        << name << ": " << error;
  }

  // Produces `count` messages over about `over`, then flushes.
  void Produce(rd_kafka_t* rk, int count, absl::Duration over) {
    for (int i = 0; i < count; ++i) {
      const std::string value = absl::StrCat("seq=", i);
      const std::string key = absl::StrCat(i);
      ASSERT_EQ(
          rd_kafka_producev(
              rk, RD_KAFKA_V_TOPIC(kTopic),
              RD_KAFKA_V_KEY(key.data(), key.size()),
              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_poll(rk, 0);
      absl::SleepFor(over / count);
    }
    ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  identity::Clock& clock_ = identity::RealClock();
  test_pki::TestCa ca_ = test_pki::MakeCa("prod.test", clock_);
  std::shared_ptr<identity::workload::FakeX509SvidSource> source_ =
      std::make_shared<identity::workload::FakeX509SvidSource>(clock_);
  rd_kafka_t* mock_host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string mock_address_;
  std::unique_ptr<FakeBroker> broker_;
  std::thread renewer_;
  std::atomic<bool> stop_renewing_{false};
};

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
