// The agent's authority under a fake clock: the intermediate renews at half
// its life, a bundle change on disk is picked up and numbered, and an
// intermediate whose root left the bundle is replaced.
#include "identity/agent/authority.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "identity/ca.h"
#include "identity/root_rotation.h"

namespace mayfly::agent {
namespace {

class AuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto upstream = DiskUpstreamAuthority::Open(
        dir_, *identity::TrustDomain::FromString("example.org"), clock_);
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    auto authority =
        Authority::Create(*std::move(upstream), absl::Hours(1), clock_);
    ASSERT_TRUE(authority.ok()) << authority.status();
    authority_ = *std::move(authority);
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::string dir_;
  std::unique_ptr<Authority> authority_;
};

TEST_F(AuthorityTest, FirstStateIsComplete) {
  auto state = authority_->Current();
  ASSERT_NE(state, nullptr);
  EXPECT_FALSE(state->signer->IsRoot());
  EXPECT_EQ(state->signer->NotAfter(), clock_.Now() + absl::Hours(1));
  EXPECT_EQ(state->bundle.roots().size(), 1u);
  EXPECT_EQ(state->bundle_generation, 1u);
  EXPECT_FALSE(state->chain_der.empty());
  ASSERT_NE(state->jwt_key, nullptr);
  EXPECT_NE(state->jwt_bundle->FindKey(state->jwt_key->key_id), nullptr);
  EXPECT_NE(state->jwt_bundle_jwks.find(state->jwt_key->key_id),
            std::string::npos);
}

TEST_F(AuthorityTest, IntermediateRenewsAtHalfLife) {
  auto first = authority_->Current();
  clock_.Advance(absl::Minutes(29));
  auto unchanged = authority_->Refresh();
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(*unchanged, nullptr);
  clock_.Advance(absl::Minutes(1));
  auto renewed = authority_->Refresh();
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  ASSERT_NE(*renewed, nullptr);
  EXPECT_NE((*renewed)->signer, first->signer);
  EXPECT_EQ((*renewed)->signer->NotAfter(), clock_.Now() + absl::Hours(1));
  // Same roots: the bundle generation does not move.
  EXPECT_EQ((*renewed)->bundle_generation, first->bundle_generation);
  // The JWT key is the trust domain's, not renewed with the intermediate.
  EXPECT_EQ((*renewed)->jwt_key, first->jwt_key);
}

TEST_F(AuthorityTest, BundleChangeOnDiskIsNumbered) {
  auto first = authority_->Current();
  ASSERT_TRUE(
      identity::PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  auto next = authority_->Refresh();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_NE(*next, nullptr);
  EXPECT_EQ((*next)->bundle.roots().size(), 2u);
  EXPECT_EQ((*next)->bundle_generation, first->bundle_generation + 1);
  // The old root is still in the bundle: the intermediate stays.
  EXPECT_EQ((*next)->signer, first->signer);
}

TEST_F(AuthorityTest, IntermediateOfADroppedRootIsReplaced) {
  auto first = authority_->Current();
  ASSERT_TRUE(
      identity::PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  ASSERT_TRUE(identity::PromoteNextRoot(dir_, clock_.Now()).ok());
  ASSERT_TRUE(identity::DropRetiredRoot(dir_).ok());
  auto next = authority_->Refresh();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_NE(*next, nullptr);
  EXPECT_EQ((*next)->bundle.roots().size(), 1u);
  EXPECT_NE((*next)->signer, first->signer);
  // The new intermediate chains to the only root left.
  EXPECT_EQ(X509_check_issued((*next)->bundle.roots()[0].get(),
                              (*next)->signer->cert.get()),
            X509_V_OK);
}

TEST_F(AuthorityTest, OtherTrustDomainsCaIsRefused) {
  auto other = DiskUpstreamAuthority::Open(
      dir_, *identity::TrustDomain::FromString("other.org"), clock_);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("example.org"), std::string::npos);
}

// A clock on a busy machine: every reading is two seconds after the last.
class SlowMachineClock : public identity::Clock {
 public:
  absl::Time Now() const override {
    now_ += absl::Seconds(2);
    return now_;
  }
  absl::Duration Monotonic() const override { return now_ - absl::UnixEpoch(); }

 private:
  mutable absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

// Seconds spent minting the first intermediate are not mistaken for a root
// that expires within intermediate_ttl.
TEST(AuthorityStartTest, SlowMintingIsNotAnExpiringRoot) {
  SlowMachineClock clock;
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/slow";
  auto upstream = DiskUpstreamAuthority::Open(
      dir, *identity::TrustDomain::FromString("example.org"), clock);
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  auto authority =
      Authority::Create(*std::move(upstream), absl::Hours(1), clock);
  EXPECT_TRUE(authority.ok()) << authority.status();
}

}  // namespace
}  // namespace mayfly::agent
