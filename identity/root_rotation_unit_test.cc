// Root rotation on a CA directory: each step's files, refusals, and the
// repair of a Promote interrupted between its two renames.
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/ca.h"
#include "identity/file_util.h"
#include "identity/root_rotation.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;
using Phase = RootRotationState::Phase;

class RootRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto ca = CertificateAuthority::Create(
        dir_, {*TrustDomain::FromString("example.org")}, clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    old_root_ = ShareCert((*ca)->root().cert.get());
  }
  std::string In(absl::string_view f) { return absl::StrCat(dir_, "/", f); }
  std::unique_ptr<CertificateAuthority> Load() {
    auto ca = CertificateAuthority::Load(dir_, clock_);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? *std::move(ca) : nullptr;
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::string dir_;
  UniqueX509 old_root_;
};

TEST_F(RootRotationTest, WholeRotation) {
  EXPECT_EQ(InspectRootRotation(dir_)->phase, Phase::kIdle);
  ASSERT_TRUE(PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  EXPECT_EQ(InspectRootRotation(dir_)->phase, Phase::kPrepared);
  struct stat st;
  ASSERT_EQ(stat(In(kNextRootKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto next = ReadNextRoot(dir_);
  ASSERT_TRUE(next.ok());
  // Prepared: both roots trusted, the old one signs.
  auto ca = Load();
  EXPECT_EQ(ca->bundle().roots().size(), 2u);
  EXPECT_EQ(X509_cmp(ca->root().cert.get(), old_root_.get()), 0);

  const absl::Time drop_after = clock_.Now() + absl::Hours(1);
  ASSERT_TRUE(PromoteNextRoot(dir_, drop_after).ok());
  auto state = InspectRootRotation(dir_);
  EXPECT_EQ(state->phase, Phase::kRetiring);
  EXPECT_EQ(state->drop_after, drop_after);
  ca = Load();
  EXPECT_EQ(X509_cmp(ca->root().cert.get(), next->get()), 0);
  EXPECT_EQ(ca->bundle().roots().size(), 2u);

  ASSERT_TRUE(DropRetiredRoot(dir_).ok());
  EXPECT_EQ(InspectRootRotation(dir_)->phase, Phase::kIdle);
  ca = Load();
  ASSERT_EQ(ca->bundle().roots().size(), 1u);
  EXPECT_TRUE(ca->bundle().Contains(**next));
  EXPECT_FALSE(ca->bundle().Contains(*old_root_));
}

TEST_F(RootRotationTest, OneRotationAtATime) {
  ASSERT_TRUE(PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  EXPECT_THAT(PrepareRootRotation(dir_, absl::Hours(24), clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already under way")));
  EXPECT_THAT(DropRetiredRoot(dir_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no retired root")));
}

TEST_F(RootRotationTest, PromoteInterruptedBetweenRenamesIsRepaired) {
  ASSERT_TRUE(PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  auto next = ReadNextRoot(dir_);
  ASSERT_TRUE(next.ok());
  // What Promote does before a crash: the retired files, then the key
  // rename; the certificate rename never happens.
  ASSERT_TRUE(WriteFileAtomically(In(kRetiredDropAfterFile), "1800003600\n",
                                  kPublicFileMode)
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(In(kRetiredRootCertFile),
                                  *ReadFile(In(kRootCertFile)), kPublicFileMode)
                  .ok());
  ASSERT_EQ(rename(In(kNextRootKeyFile).c_str(), In(kRootKeyFile).c_str()), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not hold the private key")));

  auto state = InspectRootRotation(dir_);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->phase, Phase::kRetiring);
  EXPECT_EQ(state->drop_after, absl::FromUnixSeconds(1800003600));
  auto ca = Load();
  EXPECT_EQ(X509_cmp(ca->root().cert.get(), next->get()), 0);
}

TEST_F(RootRotationTest, PrepareThatStoppedBeforeTheBundleIsCompleted) {
  ASSERT_TRUE(PrepareRootRotation(dir_, absl::Hours(24), clock_).ok());
  // Put the old bundle back, as if Prepare crashed before its last write.
  CertChain old;
  old.push_back(ShareCert(old_root_.get()));
  X509Bundle bundle(*TrustDomain::FromString("example.org"));
  bundle.AddRoot(*old_root_);
  ASSERT_TRUE(
      WriteFileAtomically(In(kBundleFile), bundle.ToPem(), kPublicFileMode)
          .ok());
  EXPECT_EQ(*EnsureNextRootInBundle(dir_), true);
  EXPECT_EQ(*EnsureNextRootInBundle(dir_), false);
  EXPECT_EQ(Load()->bundle().roots().size(), 2u);
}

}  // namespace
}  // namespace mayfly::identity
