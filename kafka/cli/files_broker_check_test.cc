// The broker ID check of --tls files: the verify callback's verdicts, and
// that a handle's broker threads get the policy.
#include "kafka/cli/files_broker_check.h"

#include <openssl/x509_vfy.h>

#include <atomic>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/pem.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka::cli {
namespace {

BrokerIdPolicy Brokers(absl::string_view pattern) {
  return BrokerIdPolicy{{*identity::SpiffeIdPattern::FromString(pattern)}};
}

class FilesBrokerCheckTest : public ::testing::Test {
 protected:
  void TearDown() override { SetThreadBrokerIdPolicy(nullptr); }

  std::string LeafDer(absl::string_view id) {
    return identity::CertToDer(
        *test_pki::MintSvid(ca_, id, absl::Minutes(5), clock_).chain.front());
  }

  // The callback on `der` at `depth`, with OpenSSL's verdict `x509_error`;
  // its return value, and what it left in x509_error_ and errstr_.
  int Verify(const std::string& der, int depth = 0,
             int x509_error = X509_V_OK) {
    x509_error_ = x509_error;
    errstr_[0] = '\0';
    return VerifyBrokerCertificate(nullptr, "b:9093/1", 1, &x509_error_, depth,
                                   der.data(), der.size(), errstr_,
                                   sizeof(errstr_), nullptr);
  }

  identity::FakeClock clock_{test_pki::kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  int x509_error_ = X509_V_OK;
  char errstr_[512];
};

TEST_F(FilesBrokerCheckTest, AcceptsABrokerIdOnly) {
  const BrokerIdPolicy policy = Brokers("spiffe://example.org/kafka/*");
  SetThreadBrokerIdPolicy(&policy);
  EXPECT_EQ(Verify(LeafDer("spiffe://example.org/kafka/broker-1")), 1);
  EXPECT_EQ(x509_error_, X509_V_OK);
  // Any workload of the trust domain chains to the bundle: not a broker.
  EXPECT_EQ(Verify(LeafDer("spiffe://example.org/ns/x/sa/y")), 0);
  EXPECT_EQ(x509_error_, X509_V_ERR_APPLICATION_VERIFICATION);
  EXPECT_STREQ(errstr_,
               "broker b:9093/1: broker presented "
               "spiffe://example.org/ns/x/sa/y, expected "
               "spiffe://example.org/kafka/*");
}

TEST_F(FilesBrokerCheckTest, RefusesOnAThreadWithoutBrokerIds) {
  EXPECT_EQ(Verify(LeafDer("spiffe://example.org/kafka/broker-1")), 0);
  EXPECT_STREQ(errstr_, "broker b:9093/1: no broker IDs on this thread");
}

TEST_F(FilesBrokerCheckTest, KeepsOpenSslsVerdictAndChecksTheLeafOnly) {
  const BrokerIdPolicy policy = Brokers("spiffe://example.org/kafka/*");
  SetThreadBrokerIdPolicy(&policy);
  const std::string leaf = LeafDer("spiffe://example.org/kafka/broker-1");
  EXPECT_EQ(Verify(leaf, 0, X509_V_ERR_CERT_HAS_EXPIRED), 0);
  EXPECT_EQ(x509_error_, X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_STREQ(errstr_,
               "broker b:9093/1: certificate at depth 0 fails verification "
               "with our bundle: certificate has expired");
  // Above the leaf, OpenSSL's verdict stands alone.
  EXPECT_EQ(Verify("not DER", 1), 1);
  EXPECT_EQ(Verify("not DER", 0), 0);
  EXPECT_STREQ(errstr_, "broker b:9093/1: its certificate does not parse");
}

// What an interceptor added after the check's saw on the broker threads.
absl::Mutex seen_mu;
int seen_broker_threads ABSL_GUARDED_BY(seen_mu) = 0;
const BrokerIdPolicy* seen_policy ABSL_GUARDED_BY(seen_mu) = nullptr;

rd_kafka_resp_err_t Record(rd_kafka_t*, rd_kafka_thread_type_t type,
                           const char*, void*) {
  if (type != RD_KAFKA_THREAD_BROKER) return RD_KAFKA_RESP_ERR_NO_ERROR;
  absl::MutexLock lock(&seen_mu);
  ++seen_broker_threads;
  seen_policy = ThreadBrokerIdPolicy();
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t AddRecord(rd_kafka_t* rk, const rd_kafka_conf_t*, void*,
                              char*, size_t) {
  return rd_kafka_interceptor_add_on_thread_start(rk, "test.record", Record,
                                                  nullptr);
}

TEST_F(FilesBrokerCheckTest, BrokerThreadsOfAHandleGetThePolicy) {
  const BrokerIdPolicy policy = Brokers("spiffe://example.org/kafka/*");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err,
                              sizeof(err)),
            RD_KAFKA_CONF_OK);
  ASSERT_TRUE(AddBrokerIdCheck(conf, &policy).ok());
  ASSERT_EQ(rd_kafka_conf_interceptor_add_on_new(conf, "test.record", AddRecord,
                                                 nullptr),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  {
    absl::MutexLock lock(&seen_mu);
    // The bootstrap broker's thread (or librdkafka's internal one).
    EXPECT_TRUE(seen_mu.AwaitWithTimeout(
        absl::Condition(
            +[](int* n) { return *n >= 1; }, &seen_broker_threads),
        absl::Seconds(30)));
    EXPECT_EQ(seen_policy, &policy);
  }
  rd_kafka_destroy(rk);
}

}  // namespace
}  // namespace mayfly::kafka::cli
