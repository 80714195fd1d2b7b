// The TLS leg against an in-process broker (the FakeBroker, scripted) on a
// socketpair, with SVIDs from the repo's CA code: the expected broker accepted
// and our whole chain seen by it; another ID, another trust domain, an
// untrusted or expired chain refused with the broker's address in the error; a
// bundle of two roots during a root rotation; no SVID yet; a silent broker
// timing out.
#include "kafka/client/upstream/tls_upstream.h"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/status_macros.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_io.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::FakeClock;
using ::mayfly::identity::SpiffeId;
using ::mayfly::identity::UniqueFd;
using ::mayfly::identity::X509Bundle;
using ::mayfly::identity::X509Svid;
using ::mayfly::testing_util::StatusIs;
using test_io::kIoTimeoutMs;
using test_io::ReadToEof;
using test_io::WriteAll;
using ::testing::HasSubstr;

constexpr absl::string_view kAddress = "kafka-1.example.org:9093";

// The broker of these tests: it reads one request and answers "hello
// <client ID>", then closes.
ScriptedReply Hello(const FakeBrokerConnection& seen, absl::string_view) {
  return ScriptedReply{absl::StrCat("hello ", seen.client_id), true};
}

class TlsUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.SetX509Bundle(ca_.bundle);
    source_.SetX509Svid(
        test_pki::MintSvid(ca_, test_pki::kClientId, absl::Hours(1), clock_));
  }

  // Starts a broker presenting `svid` (trusting clients of ca_) and
  // connects to it with `policy`.
  absl::StatusOr<std::unique_ptr<TlsUpstream>> ConnectTo(
      const X509Svid& svid,
      const BrokerIdPolicy& policy = Expect(test_pki::kBrokerId)) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
      return absl::InternalError("socketpair");
    }
    UniqueFd client(fds[0]);
    FakeBrokerOptions broker_options;
    broker_options.mode = FakeBrokerMode::kScripted;
    broker_options.script = &Hello;
    broker_options.clock = &clock_;
    broker_options.listen = false;
    broker_.reset();
    ASSIGN_OR_RETURN(broker_,
                     FakeBroker::Start(svid, ca_.bundle, broker_options));
    RETURN_IF_ERROR(broker_->Serve(UniqueFd(fds[1])));
    TlsUpstreamOptions options;
    options.broker_policy = policy;
    return TlsUpstream::Connect(std::move(client), kAddress, source_, clock_,
                                options);
  }

  static BrokerIdPolicy Expect(absl::string_view id) {
    BrokerIdPolicy policy;
    policy.brokers.push_back(*identity::SpiffeIdPattern::FromString(id));
    return policy;
  }

  // What the broker saw of the connection, once it has ended.
  FakeBrokerConnection Finished() {
    EXPECT_TRUE(broker_->WaitForClosed(1, absl::Milliseconds(kIoTimeoutMs)));
    return broker_->connections().at(0);
  }

  FakeClock clock_{test_pki::kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  std::unique_ptr<FakeBroker> broker_;
};

TEST_F(TlsUpstreamTest, ExpectedBrokerAcceptedAndSeesOurWholeChain) {
  const X509Svid broker =
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_);
  auto up = ConnectTo(broker, Expect(test_pki::kBrokerId));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), test_pki::kBrokerId);
  EXPECT_EQ((*up)->address(), kAddress);
  EXPECT_EQ((*up)->svid(), *source_.GetX509Svid());
  ASSERT_TRUE(WriteAll(**up, "ping").ok());
  absl::StatusOr<std::string> reply = ReadToEof(**up);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, absl::StrCat("hello ", test_pki::kClientId));
  const FakeBrokerConnection seen = Finished();
  EXPECT_TRUE(seen.handshake_ok) << seen.error;
  EXPECT_EQ(seen.received, "ping");
  EXPECT_EQ(seen.client_id, test_pki::kClientId);
  // Leaf and intermediate: the broker's root-only bundle needs both.
  EXPECT_EQ(seen.client_chain_length, 2);
  EXPECT_EQ(seen.sni, "kafka-1.example.org");
}

TEST_F(TlsUpstreamTest, WriteAfterTheBrokerClosedIsAnErrorNotSigpipe) {
  auto up = ConnectTo(
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_));
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
  auto up = ConnectTo(
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), test_pki::kBrokerId);
}

TEST_F(TlsUpstreamTest, BrokerWithAnotherIdRefused) {
  const X509Svid other = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/impostor", absl::Minutes(10), clock_);
  EXPECT_THAT(
      ConnectTo(other, Expect(test_pki::kBrokerId)),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("broker kafka-1.example.org:9093: broker presented "
                         "spiffe://example.org/kafka/impostor, expected "
                         "spiffe://example.org/kafka/broker-1")));
  EXPECT_FALSE(Finished().handshake_ok);
}

TEST_F(TlsUpstreamTest, BrokerFromAnotherTrustDomainRefused) {
  // Federated: its bundle is known, but no broker ID names its domain.
  const test_pki::TestCa other = test_pki::MakeCa("other.org", clock_);
  source_.SetX509Bundle(other.bundle);
  const X509Svid foreign = test_pki::MintSvid(
      other, "spiffe://other.org/kafka/broker", absl::Minutes(10), clock_);
  EXPECT_THAT(ConnectTo(foreign, Expect("spiffe://example.org/kafka/*")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("spiffe://other.org/kafka/broker, expected "
                                 "spiffe://example.org/kafka/*")));
  // Naming it is enough once its bundle is there.
  auto up = ConnectTo(foreign, Expect("spiffe://other.org/kafka/*"));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->broker_id().ToString(), "spiffe://other.org/kafka/broker");
}

// Any workload of the client's own trust domain has an SVID with
// serverAuth: one that gets between client and broker is refused unless
// its ID is a broker's.
TEST_F(TlsUpstreamTest, WorkloadOfTheSameTrustDomainIsNoBroker) {
  EXPECT_THAT(
      ConnectTo(test_pki::MintSvid(ca_, "spiffe://example.org/ns/x/sa/y",
                                   absl::Minutes(10), clock_),
                Expect("spiffe://example.org/kafka/*")),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("broker presented spiffe://example.org/ns/x/sa/y, "
                         "expected spiffe://example.org/kafka/*")));
  EXPECT_THAT(
      ConnectTo(test_pki::MintSvid(ca_, "spiffe://example.org/ns/x/sa/y",
                                   absl::Minutes(10), clock_),
                BrokerIdPolicy{}),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("no broker IDs are configured")));
}

TEST_F(TlsUpstreamTest, AllowedTrustDomainWithoutBundleIsUntrusted) {
  const test_pki::TestCa other = test_pki::MakeCa("other.org", clock_);
  EXPECT_THAT(
      ConnectTo(test_pki::MintSvid(other, "spiffe://other.org/b",
                                   absl::Minutes(10), clock_),
                Expect("spiffe://other.org/*")),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("broker kafka-1.example.org:9093: broker presented "
                         "spiffe://other.org/b, but there is no bundle for "
                         "other.org")));
}

TEST_F(TlsUpstreamTest, ChainFromAnUnknownRootRefused) {
  // Same trust domain name, different root: an impostor CA.
  const test_pki::TestCa rogue = test_pki::MakeCa("example.org", clock_);
  EXPECT_THAT(ConnectTo(test_pki::MintSvid(rogue, test_pki::kBrokerId,
                                           absl::Minutes(10), clock_),
                        Expect(test_pki::kBrokerId)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("broker presented spiffe://example.org/kafka/"
                                 "broker-1 with an untrusted chain")));
}

TEST_F(TlsUpstreamTest, ExpiredBrokerRefused) {
  const X509Svid broker =
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_);
  clock_.Advance(absl::Minutes(11));  // our own SVID lives an hour
  EXPECT_THAT(ConnectTo(broker),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("with an untrusted chain")));
}

TEST_F(TlsUpstreamTest, BundleWithTwoRootsAcceptsBothDuringRootRotation) {
  const test_pki::TestCa next = test_pki::MakeCa("example.org", clock_);
  const X509Svid broker =
      test_pki::MintSvid(next, test_pki::kBrokerId, absl::Minutes(10), clock_);
  // Before the new root is in the bundle: refused.
  EXPECT_THAT(ConnectTo(broker), StatusIs(absl::StatusCode::kUnauthenticated,
                                          HasSubstr("untrusted chain")));
  X509Bundle both = ca_.bundle;
  both.AddRoot(*next.root.cert);
  source_.SetX509Bundle(both);
  auto up = ConnectTo(broker, Expect(test_pki::kBrokerId));
  ASSERT_TRUE(up.ok()) << up.status();
  up->reset();  // lets the broker thread finish
  // Brokers of the old root still pass with the same bundle.
  auto old = ConnectTo(
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_));
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
  const test_pki::TestCa stranger = test_pki::MakeCa("example.org", clock_);
  source_.SetX509Svid(test_pki::MintSvid(stranger, test_pki::kClientId,
                                         absl::Hours(1), clock_));
  X509Bundle both = ca_.bundle;
  both.AddRoot(*stranger.root.cert);
  source_.SetX509Bundle(both);  // we trust the broker; it does not trust us
  auto up = ConnectTo(
      test_pki::MintSvid(ca_, test_pki::kBrokerId, absl::Minutes(10), clock_));
  ASSERT_TRUE(up.ok()) << up.status();
  absl::StatusOr<std::string> reply = ReadToEof(**up);
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kUnavailable,
                              HasSubstr("broker kafka-1.example.org:9093: "
                                        "TLS read failed")));
  EXPECT_FALSE(Finished().handshake_ok);
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
