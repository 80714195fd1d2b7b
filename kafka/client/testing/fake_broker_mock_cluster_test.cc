// The fake broker in front of librdkafka's mock cluster, as the client
// library's tests use it: a Kafka request sent through the TLS front gets the
// mock broker's answer. Also pins what the mock cluster advertises in its
// Metadata: its own plaintext listener, not the TLS front, so a librdkafka
// client behind the front must have that address mapped to the front.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_io.h"
#include "kafka/client/testing/test_pki.h"
#include "kafka/client/upstream/tls_upstream.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::FakeClock;
using ::mayfly::identity::UniqueFd;

// The brokers these tests start are all spiffe://example.org/kafka/...
TlsUpstreamOptions BrokerOptions() {
  TlsUpstreamOptions options;
  options.broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString("spiffe://example.org/kafka/*")};
  return options;
}

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
// Kafka API keys and the correlation ID the tests send.
constexpr int16_t kApiVersions = 18;
constexpr int16_t kMetadata = 3;
constexpr int32_t kCorrelationId = 77;

void Int16(std::string& out, int16_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void Int32(std::string& out, int32_t v) {
  Int16(out, static_cast<int16_t>(v >> 16));
  Int16(out, static_cast<int16_t>(v & 0xffff));
}

int32_t ReadInt32(const std::string& in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in.at(at + i));
  }
  return static_cast<int32_t>(v);
}

int16_t ReadInt16(const std::string& in, size_t at) {
  return static_cast<int16_t>((static_cast<uint8_t>(in.at(at)) << 8) |
                              static_cast<uint8_t>(in.at(at + 1)));
}

// A version-0 request (header v1: key, version, correlation ID, client ID
// "t") with `body`, size-prefixed.
std::string Request(int16_t api_key, const std::string& body) {
  std::string frame;
  Int16(frame, api_key);
  Int16(frame, 0);
  Int32(frame, kCorrelationId);
  Int16(frame, 1);
  frame += "t";
  frame += body;
  std::string out;
  Int32(out, static_cast<int32_t>(frame.size()));
  return out + frame;
}

class FakeBrokerMockClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char err[256];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    ASSERT_NE(rk_, nullptr) << err;
    cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
    ASSERT_NE(cluster_, nullptr);
    source_.SetX509Bundle(ca_.bundle);
    source_.SetX509Svid(test_pki::MintSvid(ca_, "spiffe://example.org/app",
                                           absl::Minutes(5), clock_));
    FakeBrokerOptions options;
    options.upstream = rd_kafka_mock_cluster_bootstraps(cluster_);
    options.clock = &clock_;
    auto broker = FakeBroker::Start(
        test_pki::MintSvid(ca_, "spiffe://example.org/kafka/broker",
                           absl::Minutes(10), clock_),
        ca_.bundle, options);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  void TearDown() override {
    broker_.reset();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  // Sends `request` through the TLS front; the response frame, size
  // prefix removed.
  std::string RoundTrip(const std::string& request) {
    absl::StatusOr<UniqueFd> fd = test_io::ConnectTcp(broker_->address());
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (!fd.ok()) return "";
    auto up = TlsUpstream::Connect(*std::move(fd), broker_->address(), source_,
                                   clock_, BrokerOptions());
    EXPECT_TRUE(up.ok()) << up.status();
    if (!up.ok()) return "";
    EXPECT_TRUE(test_io::WriteAll(**up, request).ok());
    absl::StatusOr<std::string> size = test_io::ReadExactly(**up, 4);
    EXPECT_TRUE(size.ok()) << size.status();
    if (!size.ok()) return "";
    absl::StatusOr<std::string> body =
        test_io::ReadExactly(**up, ReadInt32(*size, 0));
    EXPECT_TRUE(body.ok()) << body.status();
    return body.ok() ? *body : "";
  }

  FakeClock clock_{kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::unique_ptr<FakeBroker> broker_;
};

TEST_F(FakeBrokerMockClusterTest, ApiVersionsAnsweredByTheMockBroker) {
  const std::string response = RoundTrip(Request(kApiVersions, ""));
  ASSERT_GE(response.size(), 10u);
  EXPECT_EQ(ReadInt32(response, 0), kCorrelationId);
  EXPECT_EQ(ReadInt16(response, 4), 0);   // error_code NONE
  EXPECT_GT(ReadInt32(response, 6), 10);  // the mock broker's API keys
  const std::string request = Request(kApiVersions, "");
  EXPECT_EQ(broker_->bytes_forwarded(),
            static_cast<int64_t>(request.size() + 4 + response.size()));
}

TEST_F(FakeBrokerMockClusterTest, MetadataAdvertisesTheMockBrokerItself) {
  std::string all_topics;
  Int32(all_topics, 0);  // v0: an empty topic array asks for every topic
  const std::string response = RoundTrip(Request(kMetadata, all_topics));
  ASSERT_GE(response.size(), 8u);
  EXPECT_EQ(ReadInt32(response, 0), kCorrelationId);
  ASSERT_EQ(ReadInt32(response, 4), 1);  // one broker
  const int16_t host_length = ReadInt16(response, 12);
  const std::string host = response.substr(14, host_length);
  const int32_t port = ReadInt32(response, 14 + host_length);
  EXPECT_EQ(absl::StrCat(host, ":", port),
            rd_kafka_mock_cluster_bootstraps(cluster_));
  EXPECT_NE(port, broker_->port());
}

}  // namespace
}  // namespace mayfly::kafka
