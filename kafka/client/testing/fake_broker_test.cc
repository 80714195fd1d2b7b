// The fake broker against the client library's own TLS leg (TlsUpstream):
// bytes relayed both ways to a plaintext upstream and counted; the client's
// serial, ID and NotAfter recorded; the connection closed at the first read
// after the client's NotAfter, not before; a refused ID closed after the
// handshake without dialling the upstream; an untrusted client counted as a
// failed handshake until the bundle is rotated; Stop() ending open
// connections; the connection bound.
#include "kafka/client/testing/fake_broker.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/test_io.h"
#include "kafka/client/testing/test_pki.h"
#include "kafka/client/upstream/tls_upstream.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::FakeClock;
using ::mayfly::identity::UniqueFd;
using ::mayfly::identity::X509Bundle;
using ::mayfly::identity::X509Svid;
using ::mayfly::testing_util::StatusIs;
using test_io::kIoTimeoutMs;
using test_io::ReadExactly;
using test_io::ReadToEof;
using test_io::WriteAll;
using ::testing::HasSubstr;

// The brokers these tests start are all spiffe://example.org/kafka/...
TlsUpstreamOptions BrokerOptions() {
  TlsUpstreamOptions options;
  options.broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString("spiffe://example.org/kafka/*")};
  return options;
}

constexpr absl::Duration kWait = absl::Milliseconds(kIoTimeoutMs);

// The bytes read, or the error as text (never equal to what a test expects).
std::string Got(const absl::StatusOr<std::string>& read) {
  return read.ok() ? *read : absl::StrCat("error: ", read.status().ToString());
}

// A plaintext upstream that echoes one connection at a time and counts what
// it received: the stand-in for the mock cluster's broker.
class EchoServer {
 public:
  EchoServer() {
    auto listener = test_io::ListenLoopback();
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    stop_read_.reset(fds[0]);
    stop_write_.reset(fds[1]);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    (void)!write(stop_write_.get(), "x", 1);
    thread_.join();
  }
  const std::string& address() const { return listener_.address; }
  // Only after the destructor's join would be race-free; read after the
  // client saw the echo, which the server sent after counting.
  int accepted() const { return accepted_.load(); }
  int64_t received() const { return received_.load(); }

 private:
  // Bounded by the stop pipe and by the number of connections.
  void Serve() {
    for (int conn = 0; conn < 16; ++conn) {
      pollfd fds[2] = {{listener_.fd.get(), POLLIN, 0},
                       {stop_read_.get(), POLLIN, 0}};
      if (poll(fds, 2, kIoTimeoutMs) != 1 || fds[1].revents != 0) return;
      UniqueFd fd(accept(listener_.fd.get(), nullptr, nullptr));
      ++accepted_;
      for (;;) {
        pollfd io[2] = {{fd.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
        if (poll(io, 2, kIoTimeoutMs) != 1 || io[1].revents != 0) return;
        char buf[4096];
        const ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        received_ += n;
        if (send(fd.get(), buf, n, MSG_NOSIGNAL) != n) break;
      }
    }
  }

  test_io::Listener listener_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  std::atomic<int> accepted_{0};
  std::atomic<int64_t> received_{0};
  std::thread thread_;
};

class FakeBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.SetX509Bundle(ca_.bundle);
    source_.SetX509Svid(
        test_pki::MintSvid(ca_, test_pki::kClientId, absl::Minutes(5), clock_));
  }

  std::unique_ptr<FakeBroker> StartBroker(FakeBrokerOptions options) {
    options.clock = &clock_;
    if (options.mode == FakeBrokerMode::kForward) {
      options.upstream = echo_.address();
    }
    auto broker = FakeBroker::Start(
        test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_),
        ca_.bundle, std::move(options));
    EXPECT_TRUE(broker.ok()) << broker.status();
    return broker.ok() ? *std::move(broker) : nullptr;
  }

  absl::StatusOr<std::unique_ptr<TlsUpstream>> Connect(const FakeBroker& b) {
    absl::StatusOr<UniqueFd> fd = test_io::ConnectTcp(b.address());
    if (!fd.ok()) return fd.status();
    return TlsUpstream::Connect(*std::move(fd), b.address(), source_, clock_,
                                BrokerOptions());
  }

  std::string ClientSerial() {
    const ASN1_INTEGER* serial =
        X509_get0_serialNumber((*source_.GetX509Svid())->chain.front().get());
    return absl::BytesToHexString(absl::string_view(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
        ASN1_STRING_length(serial)));
  }

  FakeClock clock_{test_pki::kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  EchoServer echo_;
};

TEST_F(FakeBrokerTest, ForwardsBothWaysAndRecordsTheClient) {
  auto broker = StartBroker({});
  ASSERT_NE(broker, nullptr);
  EXPECT_THAT(broker->address(), HasSubstr("127.0.0.1:"));
  EXPECT_EQ(broker->address(), absl::StrCat("127.0.0.1:", broker->port()));
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), test_pki::kBrokerId);
  ASSERT_TRUE(WriteAll(**up, "hello kafka").ok());
  EXPECT_EQ(Got(ReadExactly(**up, 11)), "hello kafka");
  ASSERT_TRUE(WriteAll(**up, "again").ok());
  EXPECT_EQ(Got(ReadExactly(**up, 5)), "again");
  EXPECT_EQ(echo_.received(), 16);
  EXPECT_EQ(broker->bytes_forwarded(), 32);
  EXPECT_EQ(broker->connections_accepted(), 1);
  EXPECT_EQ(broker->handshakes_failed(), 0);
  EXPECT_EQ(broker->expired_closes(), 0);
  const FakeBrokerConnection seen = broker->connections().at(0);
  EXPECT_TRUE(seen.handshake_ok) << seen.error;
  EXPECT_EQ(seen.client_id, test_pki::kClientId);
  EXPECT_EQ(seen.client_serial, ClientSerial());
  EXPECT_EQ(seen.client_serial.size(), 32u);  // a 128-bit serial
  EXPECT_EQ(seen.client_not_after, (*source_.GetX509Svid())->not_after);
  EXPECT_EQ(seen.client_chain_length, 2);
  EXPECT_EQ(seen.bytes_from_client, 16);
  EXPECT_EQ(seen.bytes_to_client, 16);
  EXPECT_EQ(seen.sni, "");  // an IP literal carries none
  EXPECT_EQ(seen.close, FakeBrokerClose::kOpen);
  up->reset();
  ASSERT_TRUE(broker->WaitForClosed(1, kWait));
  EXPECT_EQ(broker->connections().at(0).close, FakeBrokerClose::kClientClosed)
      << broker->connections().at(0).error;
}

TEST_F(FakeBrokerTest, ClosesAtTheFirstReadAfterTheClientNotAfter) {
  auto broker = StartBroker({});
  ASSERT_NE(broker, nullptr);
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();
  const absl::Time not_after = (*source_.GetX509Svid())->not_after;
  clock_.SetTime(not_after - absl::Seconds(1));  // still valid: forwarded
  ASSERT_TRUE(WriteAll(**up, "ping").ok());
  ASSERT_TRUE(ReadExactly(**up, 4).ok());
  // Valid while now < NotAfter (identity/x509_verify.h): at it, expired.
  clock_.SetTime(not_after);
  ASSERT_TRUE(WriteAll(**up, "late").ok());
  EXPECT_EQ(Got(ReadToEof(**up)), "");
  ASSERT_TRUE(broker->WaitForClosed(1, kWait));
  EXPECT_EQ(broker->expired_closes(), 1);
  EXPECT_EQ(broker->connections().at(0).close, FakeBrokerClose::kExpired);
  EXPECT_EQ(echo_.received(), 4);  // "late" never went on
  EXPECT_EQ(broker->bytes_forwarded(), 8);
}

TEST_F(FakeBrokerTest, RefusedClientClosedAfterTheHandshake) {
  FakeBrokerOptions options;
  options.refused_ids = {std::string(test_pki::kClientId)};
  auto broker = StartBroker(options);
  ASSERT_NE(broker, nullptr);
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();  // TLS 1.3: the handshake passed
  EXPECT_EQ(Got(ReadToEof(**up)), "");
  ASSERT_TRUE(broker->WaitForClosed(1, kWait));
  EXPECT_EQ(broker->refused_clients(), 1);
  const FakeBrokerConnection seen = broker->connections().at(0);
  EXPECT_TRUE(seen.handshake_ok);
  EXPECT_EQ(seen.close, FakeBrokerClose::kRefused);
  EXPECT_EQ(echo_.accepted(), 0);
  // Allowed again: the next connection is served.
  broker->SetRefusedIds({});
  auto next = Connect(*broker);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(WriteAll(**next, "ok").ok());
  EXPECT_EQ(Got(ReadExactly(**next, 2)), "ok");
  EXPECT_EQ(broker->refused_clients(), 1);
}

TEST_F(FakeBrokerTest, UntrustedClientFailsUntilItsRootIsInTheBundle) {
  auto broker = StartBroker({});
  ASSERT_NE(broker, nullptr);
  const test_pki::TestCa next = test_pki::MakeCa("example.org", clock_);
  source_.SetX509Svid(
      test_pki::MintSvid(next, test_pki::kClientId, absl::Minutes(5), clock_));
  auto up = Connect(*broker);  // TLS 1.3: refused after our handshake
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(ReadToEof(**up), StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("TLS read failed")));
  ASSERT_TRUE(broker->WaitForClosed(1, kWait));
  EXPECT_EQ(broker->handshakes_failed(), 1);
  FakeBrokerConnection seen = broker->connections().at(0);
  EXPECT_FALSE(seen.handshake_ok);
  EXPECT_EQ(seen.close, FakeBrokerClose::kHandshakeFailed);
  EXPECT_THAT(seen.error, HasSubstr("does not lead to a root in the trust "
                                    "bundle of example.org"));
  EXPECT_EQ(seen.client_id, "");

  X509Bundle both = ca_.bundle;
  both.AddRoot(*next.root.cert);
  broker->SetClientBundle(both);
  auto again = Connect(*broker);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(WriteAll(**again, "x").ok());
  ASSERT_TRUE(ReadExactly(**again, 1).ok());
  EXPECT_EQ(broker->connections().at(1).client_id, test_pki::kClientId);
  EXPECT_EQ(broker->handshakes_failed(), 1);
}

TEST_F(FakeBrokerTest, NewSvidPresentedToNewConnections) {
  auto broker = StartBroker({});
  ASSERT_NE(broker, nullptr);
  ASSERT_TRUE(broker
                  ->SetSvid(test_pki::MintSvid(
                      ca_, "spiffe://example.org/kafka/broker-2",
                      absl::Minutes(10), clock_))
                  .ok());
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(),
            "spiffe://example.org/kafka/broker-2");
}

TEST_F(FakeBrokerTest, ScriptedWithoutScriptEchoes) {
  FakeBrokerOptions options;
  options.mode = FakeBrokerMode::kScripted;
  auto broker = StartBroker(options);
  ASSERT_NE(broker, nullptr);
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(WriteAll(**up, "abc").ok());
  EXPECT_EQ(Got(ReadExactly(**up, 3)), "abc");
  EXPECT_EQ(broker->connections().at(0).received, "abc");
  EXPECT_EQ(echo_.accepted(), 0);
}

TEST_F(FakeBrokerTest, StopEndsOpenConnectionsAndRefusesMore) {
  auto broker = StartBroker({});
  ASSERT_NE(broker, nullptr);
  auto up = Connect(*broker);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(broker->WaitForAccepted(1, kWait));
  broker->Stop();
  EXPECT_EQ(broker->connections().at(0).close, FakeBrokerClose::kStopped);
  EXPECT_EQ(Got(ReadToEof(**up)), "");
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd client(fds[0]);
  EXPECT_THAT(broker->Serve(UniqueFd(fds[1])),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("fake broker stopped")));
}

TEST_F(FakeBrokerTest, ConnectionsBeyondTheBoundClosedAtOnce) {
  FakeBrokerOptions options;
  options.max_connections = 1;
  auto broker = StartBroker(options);
  ASSERT_NE(broker, nullptr);
  auto first = Connect(*broker);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(Connect(*broker).ok());
  EXPECT_EQ(broker->connections_accepted(), 2);
  EXPECT_EQ(broker->connections().at(1).close, FakeBrokerClose::kTooMany);
}

TEST_F(FakeBrokerTest, ForwardNeedsAnUpstream) {
  FakeBrokerOptions options;
  EXPECT_THAT(FakeBroker::Start(test_pki::MintSvid(ca_, test_pki::kBrokerId,
                                                   absl::Minutes(10), clock_),
                                ca_.bundle, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("forward mode needs an upstream")));
}

}  // namespace
}  // namespace mayfly::kafka
