// How the agent trusts mayfly-server: the chain checks of VerifyServerChain
// one rule at a time, and the same checks on a real TLS connection.
#include "identity/agent/remote/tls.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/remote/node_connection.h"
#include "identity/agent/remote/server_agent.h"
#include "identity/agent/remote/testing/fake_node.h"
#include "identity/csr.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent::remote {
namespace {

using ::mayfly::testing_util::StatusIs;
using testing::FakeNode;
using ::testing::HasSubstr;
using testing::TestCa;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCa> ca = TestCa::Create(clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*std::move(ca));
    td_ = *identity::TrustDomain::FromString("example.org");
  }
  std::unique_ptr<FakeNode> StartNode(const std::string& id) {
    absl::StatusOr<std::unique_ptr<FakeNode>> node =
        FakeNode::Start(*ca_, clock_, id);
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? *std::move(node) : nullptr;
  }
  ServerTrust Pinned(const std::string& sha) {
    return ServerTrust{td_, std::nullopt, sha};
  }
  ServerTrust Bundled() {
    return ServerTrust{td_, *identity::X509Bundle::FromPem(td_, ca_->root_pem),
                       ""};
  }
  absl::Status AttestWith(const ServerTrust& trust, const FakeNode& node) {
    NodeConnection connection(
        {node.address()}, std::make_shared<ServerTrustSource>(trust), clock_);
    return Attest(connection);
  }
  absl::Status Attest(NodeConnection& connection) {
    pb::AttestRequest first;
    first.mutable_join_token()->set_token(testing::kFakeJoinToken);
    auto key = identity::GenerateKey(identity::kDefaultKeyType);
    auto csr = identity::MakeSvidCsrDer(
        **key, *identity::SpiffeId::FromString("spiffe://example.org/a"), {});
    first.set_csr(*csr);
    return connection
        .Attest(first, [](const std::string&) { return std::string("unused"); })
        .status();
  }

  identity::FakeClock clock_{absl::Now()};
  std::unique_ptr<TestCa> ca_;
  identity::TrustDomain td_ = *identity::TrustDomain::FromString("x.org");
};

TEST_F(TlsTest, PinnedRootAccepted) {
  auto node = StartNode("spiffe://example.org/mayfly/server");
  EXPECT_TRUE(VerifyServerChain(Pinned(ca_->root_sha256), node->chain_pem(),
                                clock_.Now())
                  .ok());
}

TEST_F(TlsTest, WrongPinnedRootRefused) {
  auto node = StartNode("spiffe://example.org/mayfly/server");
  EXPECT_THAT(VerifyServerChain(Pinned(std::string(64, '0')), node->chain_pem(),
                                clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("does not end with the pinned root")));
}

TEST_F(TlsTest, BundleAccepted) {
  auto node = StartNode("spiffe://example.org/mayfly/server");
  EXPECT_TRUE(
      VerifyServerChain(Bundled(), node->chain_pem(), clock_.Now()).ok());
}

TEST_F(TlsTest, WrongServerIdRefused) {
  auto node = StartNode("spiffe://example.org/not-the-server");
  EXPECT_THAT(
      VerifyServerChain(Bundled(), node->chain_pem(), clock_.Now()),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("names spiffe://example.org/not-the-server, not "
                         "spiffe://example.org/mayfly/server")));
}

TEST_F(TlsTest, ForeignRootRefused) {
  absl::StatusOr<TestCa> other = TestCa::Create(clock_);
  ASSERT_TRUE(other.ok());
  auto node = StartNode("spiffe://example.org/mayfly/server");
  ServerTrust trust{td_, *identity::X509Bundle::FromPem(td_, other->root_pem),
                    ""};
  EXPECT_THAT(
      VerifyServerChain(trust, node->chain_pem(), clock_.Now()),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("mayfly-server's certificate is not trusted")));
}

// Over a real connection: attestation succeeds only when the check passes.
TEST_F(TlsTest, HandshakeFollowsTheChecks) {
  auto good = StartNode("spiffe://example.org/mayfly/server");
  const absl::Status pinned = AttestWith(Pinned(ca_->root_sha256), *good);
  EXPECT_TRUE(pinned.ok()) << pinned;
  const absl::Status bundled = AttestWith(Bundled(), *good);
  EXPECT_TRUE(bundled.ok()) << bundled;
  EXPECT_EQ(good->attests(), 2);
  EXPECT_THAT(AttestWith(Pinned(std::string(64, 'a')), *good),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  auto impostor = StartNode("spiffe://example.org/not-the-server");
  EXPECT_THAT(AttestWith(Bundled(), *impostor),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_EQ(impostor->attests(), 0);
  EXPECT_EQ(good->attests(), 2);
}

// After a root rotation the server's chain leads to a root only its Sync
// bundle named: the agent trusts it from then on, and still trusts the
// configured bootstrap.
TEST_F(TlsTest, LearnedRootsTrustARotatedServer) {
  absl::StatusOr<TestCa> next = TestCa::Create(clock_);
  ASSERT_TRUE(next.ok());
  auto old_node = StartNode("spiffe://example.org/mayfly/server");
  absl::StatusOr<std::unique_ptr<FakeNode>> rotated =
      FakeNode::Start(*next, clock_);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ServerTrustSource source(Bundled());
  EXPECT_THAT(
      VerifyServerChain(*source.Current(), (*rotated)->chain_pem(),
                        clock_.Now()),
      StatusIs(absl::StatusCode::kUnauthenticated,
               HasSubstr("mayfly-server's certificate is not trusted")));
  identity::X509Bundle learned =
      *identity::X509Bundle::FromPem(td_, ca_->root_pem + next->root_pem);
  absl::StatusOr<bool> changed = source.Learn(learned);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  changed = source.Learn(learned);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(*changed);
  EXPECT_TRUE(VerifyServerChain(*source.Current(), (*rotated)->chain_pem(),
                                clock_.Now())
                  .ok());
  // The old root left the bundle: the bootstrap still names it.
  ASSERT_TRUE(
      source.Learn(*identity::X509Bundle::FromPem(td_, next->root_pem)).ok());
  EXPECT_TRUE(
      VerifyServerChain(*source.Current(), old_node->chain_pem(), clock_.Now())
          .ok());
  // A pin is a bootstrap too.
  ServerTrustSource pinned(Pinned(ca_->root_sha256));
  ASSERT_TRUE(pinned.Learn(learned).ok());
  EXPECT_TRUE(VerifyServerChain(*pinned.Current(), (*rotated)->chain_pem(),
                                clock_.Now())
                  .ok());
  // Learned roots do not let another server ID in.
  auto impostor = FakeNode::Start(*next, clock_, "spiffe://example.org/x");
  ASSERT_TRUE(impostor.ok());
  EXPECT_THAT(VerifyServerChain(*source.Current(), (*impostor)->chain_pem(),
                                clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("names spiffe://example.org/x")));
}

// A bundle that is empty or names another trust domain changes nothing.
TEST_F(TlsTest, BrokenBundleKeepsTheLearnedRoots) {
  absl::StatusOr<TestCa> next = TestCa::Create(clock_);
  ASSERT_TRUE(next.ok());
  absl::StatusOr<std::unique_ptr<FakeNode>> rotated =
      FakeNode::Start(*next, clock_);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ServerTrustSource source(Bundled());
  ASSERT_TRUE(
      source.Learn(*identity::X509Bundle::FromPem(td_, next->root_pem)).ok());
  EXPECT_THAT(source.Learn(identity::X509Bundle(td_)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("an empty bundle")));
  const identity::TrustDomain other =
      *identity::TrustDomain::FromString("other.org");
  identity::X509Bundle foreign(other);
  foreign.AddRoot(*ca_->root.cert);
  EXPECT_THAT(source.Learn(foreign),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("server roots for \"other.org\"")));
  EXPECT_TRUE(VerifyServerChain(*source.Current(), (*rotated)->chain_pem(),
                                clock_.Now())
                  .ok());
}

// Over real connections: a root learned after a refused handshake lets the
// same NodeConnection's next handshake through (the verifier reads the
// trust at each handshake).
TEST_F(TlsTest, NextHandshakeUsesLearnedRoots) {
  absl::StatusOr<TestCa> next = TestCa::Create(clock_);
  ASSERT_TRUE(next.ok());
  absl::StatusOr<std::unique_ptr<FakeNode>> rotated =
      FakeNode::Start(*next, clock_);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  auto source = std::make_shared<ServerTrustSource>(Bundled());
  NodeConnection connection({(*rotated)->address()}, source, clock_);
  EXPECT_THAT(Attest(connection),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  ASSERT_TRUE(
      source->Learn(*identity::X509Bundle::FromPem(td_, next->root_pem)).ok());
  // The channel retries the handshake after its reconnect backoff (200 ms
  // at first): a bounded wait, not a sleep.
  absl::Status status;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    status = Attest(connection);
  } while (!status.ok() && absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ((*rotated)->attests(), 1);
}

// What tells the agent that the server signs under a new root (so it
// renews its agent SVID before the old root leaves the bundle).
TEST_F(TlsTest, SigningRootIdTellsRootsApart) {
  absl::StatusOr<TestCa> next = TestCa::Create(clock_);
  ASSERT_TRUE(next.ok());
  auto chain_of = [&](const identity::Signer& root) {
    identity::X509SvidRequest request{
        *identity::SpiffeId::FromString("spiffe://example.org/w")};
    identity::X509Svid svid = *identity::MintX509Svid(request, root, clock_);
    google::protobuf::RepeatedPtrField<std::string> chain;
    for (const identity::UniqueX509& c : svid.chain) {
      *chain.Add() = identity::CertToDer(*c);
    }
    return chain;
  };
  const std::string a = SigningRootId(chain_of(ca_->root));
  EXPECT_EQ(a.rfind("akid:", 0), 0u) << a;
  EXPECT_EQ(SigningRootId(chain_of(ca_->root)), a);
  EXPECT_NE(SigningRootId(chain_of(next->root)), a);
  EXPECT_EQ(SigningRootId({}), "");
}

}  // namespace
}  // namespace mayfly::agent::remote
