// How the agent trusts mayfly-server: the chain checks of VerifyServerChain
// one rule at a time, and the same checks on a real TLS connection.
#include "identity/agent/remote/tls.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/remote/node_connection.h"
#include "identity/agent/remote/testing/fake_node.h"
#include "identity/csr.h"
#include "identity/keys.h"
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
        {node.address()}, std::make_shared<const ServerTrust>(trust), clock_);
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

}  // namespace
}  // namespace mayfly::agent::remote
