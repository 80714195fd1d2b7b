// The fixture of the KafkaIdentity tests on the real librdkafka 2.0.2
// (kafka_identity_test.cc: rotations; kafka_identity_errors_test.cc: the
// error paths): its in-process mock cluster behind a TLS front
// (testing/fake_broker.h) that, like the broker plugin, requires the
// client's SVID and closes a connection at the first read after that SVID's
// NotAfter. SVIDs live 6 s and are renewed every 3 s (the agent renews at
// half life), so every connection must move several times.
#ifndef MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_TEST_FIXTURE_H_
#define MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_TEST_FIXTURE_H_

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
#include "kafka/client/kafka_identity.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {

inline constexpr char kClientId[] = "spiffe://prod.test/ns/orders/sa/writer";
inline constexpr char kBrokerId[] = "spiffe://prod.test/kafka/broker";
inline constexpr char kTopic[] = "orders";
inline constexpr absl::Duration kClientTtl = absl::Seconds(6);
inline constexpr absl::Duration kRenewEvery = absl::Seconds(3);

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

inline void LogCallback(const rd_kafka_t* rk, int level, const char* facility,
                        const char* message) {
  auto* observed = static_cast<Observed*>(rd_kafka_opaque(rk));
  if (level <= 4) {
    ++observed->warnings;
    observed->Note(absl::StrCat("log ", level, " ", facility, ": ", message));
  }
}

inline void ErrorCallback(rd_kafka_t* /*rk*/, int err, const char* reason,
                          void* opaque) {
  auto* observed = static_cast<Observed*>(opaque);
  ++observed->errors;
  observed->Note(absl::StrCat(
      "error_cb ", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)),
      ": ", reason));
}

inline void DeliveryCallback(rd_kafka_t* /*rk*/,
                             const rd_kafka_message_t* message, void* opaque) {
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
inline ClientStats PollUntil(rd_kafka_conf_t* conf,
                             const KafkaIdentity& identity,
                             uint64_t ClientStats::*counter,
                             uint64_t at_least) {
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

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_TEST_FIXTURE_H_
