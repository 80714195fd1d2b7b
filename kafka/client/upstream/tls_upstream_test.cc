// The TLS leg against an in-process broker on a socketpair, with SVIDs from
// the repo's CA code: the expected broker accepted and our whole chain seen
// by it; another ID, another trust domain, an untrusted or expired chain
// refused with the broker's address in the error; a bundle of two roots
// during a root rotation; no SVID yet; a silent broker timing out.
#include "kafka/client/upstream/tls_upstream.h"

#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "identity/x509_verify.h"
#include "kafka/client/upstream/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::FakeClock;
using ::mayfly::identity::SpiffeId;
using ::mayfly::identity::UniqueFd;
using ::mayfly::identity::X509Bundle;
using ::mayfly::identity::X509Svid;
using ::mayfly::testing_util::StatusIs;
using test_pki::MakeCa;
using test_pki::MintSvid;
using test_pki::TestCa;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
constexpr absl::string_view kAddress = "kafka-1.example.org:9093";
constexpr absl::string_view kClientId = "spiffe://example.org/app";
constexpr absl::string_view kBrokerId = "spiffe://example.org/kafka/broker-1";
// A bound on every blocking step of a test, far above what it needs.
constexpr int kIoTimeoutMs = 10000;

// What the in-process broker saw.
struct BrokerSeen {
  bool handshake_ok = false;
  std::string client_id;  // from its own VerifyX509Svid of our chain
  int client_chain_length = 0;
  std::string sni;
  std::string request;
  std::string error;
};

// A TLS server on one end of a socketpair, presenting `svid` and checking
// the client's chain with the repo's VerifyX509Svid against `client_bundle`.
// It reads one 4-byte request and answers "hello <client ID>".
class TestBroker {
 public:
  TestBroker(UniqueFd fd, const X509Svid& svid, X509Bundle client_bundle,
             const identity::Clock& clock)
      : fd_(std::move(fd)), bundle_(std::move(client_bundle)), clock_(clock) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(ctx_.get(), svid.chain.front().get());
    SSL_CTX_use_PrivateKey(ctx_.get(), svid.key.get());
    for (size_t i = 1; i < svid.chain.size(); ++i) {
      SSL_CTX_add1_chain_cert(ctx_.get(), svid.chain[i].get());
    }
    SSL_CTX_set_verify(
        ctx_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx_.get(), &TestBroker::Verify, this);
    const timeval tv{kIoTimeoutMs / 1000, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestBroker() { Join(); }

  const BrokerSeen& Join() {
    if (thread_.joinable()) thread_.join();
    return seen_;
  }

 private:
  static int Verify(X509_STORE_CTX* store, void* arg) {
    auto* self = static_cast<TestBroker*>(arg);
    identity::CertChain chain;
    STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store);
    for (int i = 0; i < sk_X509_num(sent); ++i) {
      chain.push_back(identity::ShareCert(sk_X509_value(sent, i)));
    }
    self->seen_.client_chain_length = static_cast<int>(chain.size());
    auto verified =
        identity::VerifyX509Svid(chain, self->bundle_, self->clock_.Now());
    if (!verified.ok()) {
      self->seen_.error = verified.status().ToString();
      return 0;
    }
    self->seen_.client_id = verified->id.ToString();
    return 1;
  }

  void Serve() {
    // The broker thread writes with OpenSSL's plain socket BIO; a client
    // that went away must not end the test binary with SIGPIPE. Blocked on
    // this thread only, so the client code under test is still exposed.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    UniqueSsl ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd_.get());
    if (SSL_accept(ssl.get()) != 1) {
      if (seen_.error.empty()) seen_.error = identity::DrainOpenSslErrors();
      return;
    }
    seen_.handshake_ok = true;
    const char* sni = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
    seen_.sni = sni == nullptr ? "" : sni;
    char buf[4];
    const int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n <= 0) return;
    seen_.request.assign(buf, n);
    const std::string reply = "hello " + seen_.client_id;
    SSL_write(ssl.get(), reply.data(), static_cast<int>(reply.size()));
    SSL_shutdown(ssl.get());
    ERR_clear_error();
  }

  UniqueFd fd_;
  const X509Bundle bundle_;
  const identity::Clock& clock_;
  UniqueSslCtx ctx_;
  BrokerSeen seen_;
  std::thread thread_;
};

// Writes all of `data` through the non-blocking upstream.
absl::Status WriteAll(TlsUpstream& up, absl::string_view data) {
  for (int round = 0; round < 1000 && !data.empty(); ++round) {
    absl::StatusOr<TlsIo> io = up.Write(data);
    if (!io.ok()) return io.status();
    data.remove_prefix(io->bytes);
    if (io->bytes == 0) {
      pollfd p{up.fd(), static_cast<short>(io->want_read ? POLLIN : POLLOUT),
               0};
      if (poll(&p, 1, kIoTimeoutMs) != 1)
        return absl::DeadlineExceededError("");
    }
  }
  return data.empty() ? absl::OkStatus() : absl::InternalError("stuck");
}

// Reads until the broker closes the stream.
absl::StatusOr<std::string> ReadToEof(TlsUpstream& up) {
  std::string out;
  for (int round = 0; round < 1000; ++round) {
    char buf[256];
    absl::StatusOr<TlsIo> io = up.Read(buf, sizeof buf);
    if (!io.ok()) return io.status();
    if (io->eof) return out;
    out.append(buf, io->bytes);
    if (io->bytes == 0) {
      pollfd p{up.fd(), static_cast<short>(io->want_write ? POLLOUT : POLLIN),
               0};
      if (poll(&p, 1, kIoTimeoutMs) != 1)
        return absl::DeadlineExceededError("");
    }
  }
  return absl::InternalError("no end of stream");
}

class TlsUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.SetX509Bundle(ca_.bundle);
    source_.SetX509Svid(MintSvid(ca_, kClientId, absl::Hours(1), clock_));
  }

  // Starts a broker presenting `svid` (trusting clients of ca_) and
  // connects to it with `policy`.
  absl::StatusOr<std::unique_ptr<TlsUpstream>> ConnectTo(
      const X509Svid& svid, const BrokerIdPolicy& policy = {}) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
      return absl::InternalError("socketpair");
    }
    UniqueFd client(fds[0]);
    broker_ = std::make_unique<TestBroker>(UniqueFd(fds[1]), svid, ca_.bundle,
                                           clock_);
    TlsUpstreamOptions options;
    options.broker_policy = policy;
    return TlsUpstream::Connect(std::move(client), kAddress, source_, clock_,
                                options);
  }

  static BrokerIdPolicy Expect(absl::string_view id) {
    BrokerIdPolicy policy;
    policy.broker_ids.push_back(*SpiffeId::FromString(id));
    return policy;
  }

  FakeClock clock_{kStart};
  TestCa ca_ = MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  std::unique_ptr<TestBroker> broker_;
};

TEST_F(TlsUpstreamTest, ExpectedBrokerAcceptedAndSeesOurWholeChain) {
  const X509Svid broker = MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_);
  auto up = ConnectTo(broker, Expect(kBrokerId));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), kBrokerId);
  EXPECT_EQ((*up)->address(), kAddress);
  EXPECT_EQ((*up)->svid(), *source_.GetX509Svid());
  ASSERT_TRUE(WriteAll(**up, "ping").ok());
  absl::StatusOr<std::string> reply = ReadToEof(**up);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, absl::StrCat("hello ", kClientId));
  const BrokerSeen& seen = broker_->Join();
  EXPECT_TRUE(seen.handshake_ok) << seen.error;
  EXPECT_EQ(seen.request, "ping");
  EXPECT_EQ(seen.client_id, kClientId);
  // Leaf and intermediate: the broker's root-only bundle needs both.
  EXPECT_EQ(seen.client_chain_length, 2);
  EXPECT_EQ(seen.sni, "kafka-1.example.org");
}

TEST_F(TlsUpstreamTest, WriteAfterTheBrokerClosedIsAnErrorNotSigpipe) {
  auto up = ConnectTo(MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(WriteAll(**up, "ping").ok());
  ASSERT_TRUE(ReadToEof(**up).ok());
  broker_.reset();  // its end of the socketpair is closed now
  // A default SIGPIPE would end this test binary here.
  EXPECT_THAT(WriteAll(**up, "more"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("broker kafka-1.example.org:9093: TLS write "
                                 "failed: Broken pipe")));
}

TEST_F(TlsUpstreamTest, AnyIdOfOwnTrustDomainByDefault) {
  auto up = ConnectTo(MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), kBrokerId);
}

TEST_F(TlsUpstreamTest, BrokerWithAnotherIdRefused) {
  const X509Svid other = MintSvid(ca_, "spiffe://example.org/kafka/impostor",
                                  absl::Minutes(10), clock_);
  EXPECT_THAT(
      ConnectTo(other, Expect(kBrokerId)),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("broker kafka-1.example.org:9093: broker presented "
                         "spiffe://example.org/kafka/impostor, expected "
                         "spiffe://example.org/kafka/broker-1")));
  EXPECT_FALSE(broker_->Join().handshake_ok);
}

TEST_F(TlsUpstreamTest, BrokerFromAnotherTrustDomainRefused) {
  // Federated: its bundle is known, but the trust domain is not allowed.
  const TestCa other = MakeCa("other.org", clock_);
  source_.SetX509Bundle(other.bundle);
  const X509Svid foreign = MintSvid(other, "spiffe://other.org/kafka/broker",
                                    absl::Minutes(10), clock_);
  EXPECT_THAT(ConnectTo(foreign),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("spiffe://other.org/kafka/broker, outside "
                                 "this client's trust domain example.org")));
  BrokerIdPolicy allowed;
  allowed.trust_domains = {*identity::TrustDomain::FromString("example.org")};
  EXPECT_THAT(ConnectTo(foreign, allowed),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("outside the allowed trust domains "
                                 "(example.org)")));
  // Allowing it is enough once its bundle is there.
  allowed.trust_domains.push_back(
      *identity::TrustDomain::FromString("other.org"));
  auto up = ConnectTo(foreign, allowed);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), "spiffe://other.org/kafka/broker");
}

TEST_F(TlsUpstreamTest, AllowedTrustDomainWithoutBundleIsUntrusted) {
  const TestCa other = MakeCa("other.org", clock_);
  BrokerIdPolicy allowed;
  allowed.trust_domains = {*identity::TrustDomain::FromString("other.org")};
  EXPECT_THAT(
      ConnectTo(
          MintSvid(other, "spiffe://other.org/b", absl::Minutes(10), clock_),
          allowed),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("broker kafka-1.example.org:9093: broker presented "
                         "spiffe://other.org/b, but there is no bundle for "
                         "other.org")));
}

TEST_F(TlsUpstreamTest, ChainFromAnUnknownRootRefused) {
  // Same trust domain name, different root: an impostor CA.
  const TestCa rogue = MakeCa("example.org", clock_);
  EXPECT_THAT(ConnectTo(MintSvid(rogue, kBrokerId, absl::Minutes(10), clock_),
                        Expect(kBrokerId)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("broker presented spiffe://example.org/kafka/"
                                 "broker-1 with an untrusted chain")));
}

TEST_F(TlsUpstreamTest, ExpiredBrokerRefused) {
  const X509Svid broker = MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_);
  clock_.Advance(absl::Minutes(11));  // our own SVID lives an hour
  EXPECT_THAT(ConnectTo(broker),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("with an untrusted chain")));
}

TEST_F(TlsUpstreamTest, BundleWithTwoRootsAcceptsBothDuringRootRotation) {
  const TestCa next = MakeCa("example.org", clock_);
  const X509Svid broker = MintSvid(next, kBrokerId, absl::Minutes(10), clock_);
  // Before the new root is in the bundle: refused.
  EXPECT_THAT(ConnectTo(broker), StatusIs(absl::StatusCode::kUnauthenticated,
                                          HasSubstr("untrusted chain")));
  X509Bundle both = ca_.bundle;
  both.AddRoot(*next.root.cert);
  source_.SetX509Bundle(both);
  auto up = ConnectTo(broker, Expect(kBrokerId));
  ASSERT_TRUE(up.ok()) << up.status();
  up->reset();  // lets the broker thread finish
  // Brokers of the old root still pass with the same bundle.
  auto old = ConnectTo(MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(old.ok()) << old.status();
}

TEST_F(TlsUpstreamTest, NoSvidYetNamesTheBroker) {
  identity::workload::FakeX509SvidSource empty(clock_);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd server(fds[1]);
  EXPECT_THAT(
      TlsUpstream::Connect(UniqueFd(fds[0]), kAddress, empty, clock_, {}),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("broker kafka-1.example.org:9093: no X.509-SVID to "
                         "present: no X.509-SVID received yet")));
}

TEST_F(TlsUpstreamTest, ContextOfAnExpiredSvidRefused) {
  auto context = TlsClientContext::FromSource(source_);
  ASSERT_TRUE(context.ok()) << context.status();
  clock_.Advance(absl::Hours(2));
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd server(fds[1]);
  EXPECT_THAT(TlsUpstream::Connect(UniqueFd(fds[0]), kAddress, *context,
                                   source_, clock_, {}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("the X.509-SVID for spiffe://example.org/app "
                                 "expired at")));
}

TEST_F(TlsUpstreamTest, SilentBrokerTimesOut) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  UniqueFd server(fds[1]);  // never answers
  TlsUpstreamOptions options;
  options.handshake_timeout = absl::Milliseconds(200);
  EXPECT_THAT(TlsUpstream::Connect(UniqueFd(fds[0]), kAddress, source_, clock_,
                                   options),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("broker kafka-1.example.org:9093: TLS "
                                 "handshake did not finish in 200ms")));
}

TEST_F(TlsUpstreamTest, BrokerRefusingOurSvidShowsOnTheFirstRead) {
  // TLS 1.3: our handshake ends before the broker judges our certificate.
  const TestCa stranger = MakeCa("example.org", clock_);
  source_.SetX509Svid(MintSvid(stranger, kClientId, absl::Hours(1), clock_));
  X509Bundle both = ca_.bundle;
  both.AddRoot(*stranger.root.cert);
  source_.SetX509Bundle(both);  // we trust the broker; it does not trust us
  auto up = ConnectTo(MintSvid(ca_, kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(up.ok()) << up.status();
  absl::StatusOr<std::string> reply = ReadToEof(**up);
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kUnavailable,
                              HasSubstr("broker kafka-1.example.org:9093: "
                                        "TLS read failed")));
  EXPECT_FALSE(broker_->Join().handshake_ok);
}

TEST(SniHostOfTest, HostNamesOnly) {
  EXPECT_EQ(SniHostOf("kafka-1.example.org:9093"), "kafka-1.example.org");
  EXPECT_EQ(SniHostOf("localhost"), "localhost");
  EXPECT_EQ(SniHostOf("127.0.0.1:9093"), "");
  EXPECT_EQ(SniHostOf("[::1]:9093"), "");
  EXPECT_EQ(SniHostOf("::1:9093"), "");
  EXPECT_EQ(SniHostOf(":9093"), "");
}

}  // namespace
}  // namespace mayfly::kafka
