// KafkaIdentity's per-handle state with the real librdkafka 2.0.2: it ends
// with its handle, and a handle whose conf lost the socket hooks after
// Configure connects nowhere (no plaintext byte leaves).
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/testing/status_matchers.h"
#include "identity/unique_fd.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/kafka_identity.h"
#include "kafka/client/socket_hooks.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

// Bounds the wait for librdkafka's first connect; the test ends as soon
// as it has been refused (or, without the fix, accepted).
constexpr absl::Duration kConnectWait = absl::Seconds(20);

ClientOptions Options() {
  ClientOptions options;
  options.source = std::make_shared<identity::workload::FakeX509SvidSource>(
      identity::RealClock());
  options.broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString("spiffe://example.org/kafka/*")};
  return options;
}

rd_kafka_t* NewProducer(rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  EXPECT_NE(rk, nullptr) << error;
  return rk;
}

// Each handle's context is made by on_new and ends with the handle: none
// is kept for a handle that is gone (and so none could be found for a
// later handle at the same address).
TEST(HandleLifetimeTest, ContextsEndWithTheirHandles) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::StatusOr<std::shared_ptr<KafkaIdentity>> identity =
      KafkaIdentity::Configure(conf, Options());
  ASSERT_EQ(identity.status(), absl::OkStatus());
  const int64_t before = HandleContext::Live();
  for (int i = 0; i < 3; ++i) {
    rd_kafka_t* rk = NewProducer(rd_kafka_conf_dup(conf));
    ASSERT_NE(rk, nullptr);
    EXPECT_EQ(HandleContext::Live(), before + 1);
    EXPECT_EQ((*identity)->VerifyHandle(rk), absl::OkStatus());
    rd_kafka_destroy(rk);
    EXPECT_EQ(HandleContext::Live(), before) << "after handle " << i;
  }
  rd_kafka_conf_destroy(conf);
}

std::atomic<int> app_hook_calls{0};

int AppSocket(int domain, int type, int protocol, void* /*opaque*/) {
  ++app_hook_calls;
  return ::socket(domain, type | SOCK_CLOEXEC, protocol);
}

int AppConnect(int fd, const sockaddr* addr, int addr_len, const char* /*name*/,
               void* /*opaque*/) {
  ++app_hook_calls;
  return ::connect(fd, addr, static_cast<socklen_t>(addr_len)) == 0 ||
                 errno == EINPROGRESS
             ? 0
             : errno;
}

void CountError(rd_kafka_t* /*rk*/, int /*err*/, const char* /*reason*/,
                void* opaque) {
  ++*static_cast<std::atomic<int>*>(opaque);
}

// The application replaces socket_cb and connect_cb after Configure (the
// one case the hooks themselves cannot catch: none of ours is called).
// rd_kafka_new still succeeds, but the handle's connects are refused
// before a socket exists: the plaintext listener never sees a connection.
TEST(FailClosedTest, ReplacedHooksConnectNowhere) {
  identity::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.get(), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  ASSERT_EQ(
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len),
      0);

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::atomic<int> errors{0};
  rd_kafka_conf_set_opaque(conf, &errors);
  rd_kafka_conf_set_error_cb(conf, CountError);
  const std::string servers = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  char error[512];
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", servers.c_str(), error,
                              sizeof(error)),
            RD_KAFKA_CONF_OK);
  absl::StatusOr<std::shared_ptr<KafkaIdentity>> identity =
      KafkaIdentity::Configure(conf, Options());
  ASSERT_EQ(identity.status(), absl::OkStatus());
  rd_kafka_conf_set_socket_cb(conf, AppSocket);
  rd_kafka_conf_set_connect_cb(conf, AppConnect);
  app_hook_calls = 0;

  rd_kafka_t* rk = NewProducer(conf);
  ASSERT_NE(rk, nullptr);
  int accepted = 0;
  const absl::Time deadline = absl::Now() + kConnectWait;
  while (errors.load() == 0 && accepted == 0 && absl::Now() < deadline) {
    rd_kafka_poll(rk, 50);
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      identity::UniqueFd conn(
          ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() >= 0) ++accepted;
    }
  }
  EXPECT_GT(errors.load(), 0) << "librdkafka reported no failed connect";
  EXPECT_EQ(accepted, 0) << "a connection reached the plaintext listener";
  EXPECT_EQ(app_hook_calls.load(), 0);
  EXPECT_THAT((*identity)->VerifyHandle(rk),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("socket_cb is no longer KafkaIdentity's")));
  rd_kafka_destroy(rk);
}

}  // namespace
}  // namespace mayfly::kafka
