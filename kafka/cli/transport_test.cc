// The transports' librdkafka properties, read back from the conf: PLAINTEXT
// and librdkafka's TLS on one ..data generation of a `mayfly watch x509
// --write` directory, the one current at Configure; --property last;
// the errors that name what was wrong. (--tls mayfly is the client
// library's: its own tests.)
#include "kafka/cli/transport.h"

#include <limits.h>
#include <stdlib.h>

#include <string>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/svid_files.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"
#include "kafka/cli/files_broker_check.h"
#include "kafka/cli/handle.h"

namespace mayfly::kafka::cli {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A fixed start keeps certificate times the same on every run.
const absl::Time kStart = absl::FromUnixSeconds(1800000000);

std::string Get(rd_kafka_conf_t* conf, const char* name) {
  char value[1024];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) {
    return "<unset>";
  }
  return value;
}

class TransportTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<Transport>> Start(TransportOptions options) {
    return Transport::Start(options, clock_);
  }

  // Writes a fresh SVID into `dir` the way `mayfly watch x509` does.
  void WriteSvid(const std::string& dir) {
    const auto td = *identity::TrustDomain::FromString("example.org");
    absl::StatusOr<identity::Signer> root =
        identity::MintRootCa(identity::CaRequest{td, absl::Hours(24)}, clock_);
    ASSERT_TRUE(root.ok()) << root.status();
    identity::X509SvidRequest request{
        *identity::SpiffeId::FromString("spiffe://example.org/client"),
        absl::Hours(1)};
    absl::StatusOr<identity::X509Svid> svid =
        identity::MintX509Svid(request, *root, clock_);
    ASSERT_TRUE(svid.ok()) << svid.status();
    identity::X509Bundle bundle(td);
    bundle.AddRoot(*root->cert);
    ASSERT_TRUE(
        identity::WriteSvidFiles(dir, svid->chain, *svid->key, bundle.roots())
            .ok());
  }

  static TransportOptions Files(const std::string& dir) {
    TransportOptions options;
    options.tls = TlsMode::kFiles;
    options.svid_dir = dir;
    return options;
  }

  // Where `dir`/..data points now.
  static std::string CurrentGeneration(const std::string& dir) {
    char resolved[PATH_MAX];
    const std::string link = dir + "/" + std::string(identity::kSvidDataLink);
    return realpath(link.c_str(), resolved) == nullptr ? "<none>" : resolved;
  }

  identity::FakeClock clock_{kStart};
  UniqueConf conf_{rd_kafka_conf_new()};
  const std::string tmp_ = getenv("TEST_TMPDIR");
};

TEST_F(TransportTest, NoneIsPlaintextWithoutNagle) {
  TransportOptions options;
  options.tls = TlsMode::kNone;
  auto transport = Start(options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE((*transport)->Configure(conf_.get(), {{"client.id", "t"}}).ok());
  EXPECT_EQ(Get(conf_.get(), "client.id"), "t");
  EXPECT_EQ(Get(conf_.get(), "security.protocol"), "plaintext");
  EXPECT_EQ(Get(conf_.get(), "socket.nagle.disable"), "true");
  EXPECT_EQ((*transport)->Rotations(), 0);
  EXPECT_EQ((*transport)->AuthFailures(), 0);
}

TEST_F(TransportTest, PropertiesComeLast) {
  TransportOptions options;
  options.tls = TlsMode::kNone;
  options.properties = {{"socket.nagle.disable", "false"},
                        {"client.id", "mine"}};
  auto transport = Start(options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE((*transport)->Configure(conf_.get(), {{"client.id", "t"}}).ok());
  EXPECT_EQ(Get(conf_.get(), "socket.nagle.disable"), "false");
  EXPECT_EQ(Get(conf_.get(), "client.id"), "mine");
}

TEST_F(TransportTest, RefusedPropertyIsNamed) {
  TransportOptions options;
  options.tls = TlsMode::kNone;
  options.properties = {{"no.such.property", "1"}};
  auto transport = Start(options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  EXPECT_THAT((*transport)->Configure(conf_.get(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("librdkafka property no.such.property=1")));
}

TEST_F(TransportTest, FilesAreOneGenerationReadOnce) {
  const std::string dir = tmp_ + "/svid";
  WriteSvid(dir);
  auto transport = Start(Files(dir));
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE((*transport)->Configure(conf_.get(), {}).ok());
  const std::string chain = Get(conf_.get(), "ssl.certificate.location");
  EXPECT_THAT(chain, StartsWith(dir + "/..2"));  // a generation, not ..data
  EXPECT_THAT(chain, EndsWith("/svid.pem"));
  EXPECT_THAT(chain, Not(HasSubstr(std::string(identity::kSvidDataLink))));
  const std::string generation = chain.substr(0, chain.rfind('/'));
  EXPECT_EQ(generation, CurrentGeneration(dir));
  EXPECT_EQ(Get(conf_.get(), "ssl.key.location"), generation + "/svid_key.pem");
  EXPECT_EQ(Get(conf_.get(), "ssl.ca.location"),
            generation + "/svid_bundle.pem");
  EXPECT_EQ(Get(conf_.get(), "security.protocol"), "ssl");
  EXPECT_EQ(Get(conf_.get(), "ssl.endpoint.identification.algorithm"), "none");
  EXPECT_EQ(Get(conf_.get(), "enable.ssl.certificate.verification"), "true");
  EXPECT_EQ(Get(conf_.get(), "socket.nagle.disable"), "true");
  // librdkafka loads the chain, key and bundle at rd_kafka_new.
  absl::StatusOr<UniqueKafka> rk =
      NewHandle(RD_KAFKA_PRODUCER, std::move(conf_), **transport);
  EXPECT_TRUE(rk.ok()) << rk.status();
}

// What an interceptor added after Configure's saw on broker threads: the
// broker ID policy files_broker_check.h gives them.
absl::Mutex seen_mu;
std::string seen_brokers ABSL_GUARDED_BY(seen_mu);

rd_kafka_resp_err_t Record(rd_kafka_t*, rd_kafka_thread_type_t type,
                           const char*, void*) {
  const BrokerIdPolicy* policy = ThreadBrokerIdPolicy();
  if (type != RD_KAFKA_THREAD_BROKER || policy == nullptr) {
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  absl::MutexLock lock(&seen_mu);
  for (const identity::SpiffeIdPattern& p : policy->brokers) {
    seen_brokers += p.ToString() + ";";
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t AddRecord(rd_kafka_t* rk, const rd_kafka_conf_t*, void*,
                              char*, size_t) {
  return rd_kafka_interceptor_add_on_thread_start(rk, "test.record", Record,
                                                  nullptr);
}

// librdkafka checks the chain only; the broker threads check the ID.
TEST_F(TransportTest, FilesCheckTheBrokersId) {
  const std::string dir = tmp_ + "/ids";
  WriteSvid(dir);
  TransportOptions options = Files(dir);
  options.brokers = {
      *identity::SpiffeIdPattern::FromString("spiffe://example.org/kafka/*")};
  auto transport = Start(options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE(
      (*transport)
          ->Configure(conf_.get(), {{"bootstrap.servers", "127.0.0.1:1"}})
          .ok());
  ASSERT_EQ(rd_kafka_conf_interceptor_add_on_new(conf_.get(), "test.record",
                                                 AddRecord, nullptr),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  absl::StatusOr<UniqueKafka> rk =
      NewHandle(RD_KAFKA_PRODUCER, std::move(conf_), **transport);
  ASSERT_TRUE(rk.ok()) << rk.status();
  absl::MutexLock lock(&seen_mu);
  EXPECT_TRUE(seen_mu.AwaitWithTimeout(
      absl::Condition(
          +[](std::string* s) { return !s->empty(); }, &seen_brokers),
      absl::Seconds(30)));
  EXPECT_EQ(seen_brokers.substr(0, seen_brokers.find(';')),
            "spiffe://example.org/kafka/*");
}

// The watch moved on between Start and Configure: the new generation.
TEST_F(TransportTest, FilesAreResolvedAtConfigure) {
  const std::string dir = tmp_ + "/moved";
  WriteSvid(dir);
  auto transport = Start(Files(dir));
  ASSERT_TRUE(transport.ok()) << transport.status();
  const std::string first = CurrentGeneration(dir);
  WriteSvid(dir);
  ASSERT_NE(CurrentGeneration(dir), first);
  ASSERT_TRUE((*transport)->Configure(conf_.get(), {}).ok());
  EXPECT_EQ(Get(conf_.get(), "ssl.key.location"),
            CurrentGeneration(dir) + "/svid_key.pem");
}

TEST_F(TransportTest, FilesNeedAWatchDirectory) {
  EXPECT_THAT(Start(Files(tmp_)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--svid-dir " + tmp_ + ": no ..data in it")));
}

TEST_F(TransportTest, MayflyNeedsASocket) {
  unsetenv("SPIFFE_ENDPOINT_SOCKET");
  TransportOptions options;
  EXPECT_THAT(Start(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("SPIFFE_ENDPOINT_SOCKET")));
}

TEST_F(TransportTest, MayflyWaitsForTheFirstSvid) {
  TransportOptions options;
  options.socket = tmp_ + "/no-agent.sock";
  options.first_svid_timeout = absl::Milliseconds(300);
  EXPECT_THAT(Start(options),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("no X.509-SVID from the Workload API within "
                                 "300ms (last error: ")));
}

}  // namespace
}  // namespace mayfly::kafka::cli
