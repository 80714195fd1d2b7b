// `ca rotate --wait` follows a rotation for its --wait on the monotonic
// clock: a wall clock stepped a year forward (or back) at every look
// neither ends the wait early nor stretches it.
#include "identity/cli/rotation_follow.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/ca.h"
#include "identity/keys.h"
#include "identity/spiffe_id.h"

namespace mayfly::cli {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(500);
constexpr absl::Duration kYear = absl::Hours(24 * 365);
// Far more looks than a 2 s wait at kPoll takes.
constexpr int kMaxLooks = 100;

class FollowRootRotationTest : public ::testing::Test {
 protected:
  FollowRootRotationTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/ca_",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    const identity::TrustDomain td =
        *identity::TrustDomain::FromString("example.org");
    EXPECT_TRUE(identity::CertificateAuthority::Create(
                    dir_, {td, identity::KeyType::kEcP256, 10 * kYear}, clock_)
                    .ok());
    // No agent finishes it: the rotation stays "prepared".
    EXPECT_TRUE(identity::PrepareRootRotation(dir_, 10 * kYear, clock_).ok());
  }

  // Looks until --wait of 2 s passes, stepping the wall clock by `step` and
  // moving time on by one poll at each sleep; returns the number of looks.
  int LooksWithWallSteps(absl::Duration step) {
    int looks = 0;
    int phases = 0;
    absl::StatusOr<bool> done = FollowRootRotation(
        dir_, absl::Seconds(2), kPoll, clock_,
        [&](absl::Duration poll) {
          ++looks;
          clock_.SetTime(clock_.Now() + step);
          clock_.Advance(poll);
          // Bounds the test should a wall-clock deadline never come: far in
          // the future, any deadline is past.
          if (looks > kMaxLooks) clock_.SetTime(absl::InfiniteFuture());
        },
        [&](const identity::RootRotationState&) { ++phases; });
    EXPECT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done.value_or(true), false) << "the rotation is not done";
    EXPECT_EQ(phases, 1) << "\"prepared\" printed once";
    return looks;
  }

  identity::FakeClock clock_;
  std::string dir_;
};

TEST_F(FollowRootRotationTest, WaitsItsFullTimeWhenTheWallClockJumpsAhead) {
  EXPECT_EQ(LooksWithWallSteps(kYear), 4);  // 2 s / 500 ms
}

TEST_F(FollowRootRotationTest, StopsOnTimeWhenTheWallClockJumpsBack) {
  EXPECT_EQ(LooksWithWallSteps(-kYear), 4);
}

}  // namespace
}  // namespace mayfly::cli
