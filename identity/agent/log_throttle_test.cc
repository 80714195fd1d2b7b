// The log throttle under a fake clock.
#include "identity/agent/log_throttle.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "identity/clock.h"

namespace mayfly::agent {
namespace {

TEST(LogThrottleTest, LetsABurstThroughThenCountsWhatItHeldBack) {
  identity::FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  LogThrottle throttle(20, clock);
  int64_t held_back = -1;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(throttle.Allow(held_back)) << "line " << i;
    EXPECT_EQ(held_back, 0);
  }
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(throttle.Allow(held_back));

  clock.Advance(absl::Milliseconds(49));  // 0.98 of a token
  EXPECT_FALSE(throttle.Allow(held_back));
  clock.Advance(absl::Milliseconds(2));
  ASSERT_TRUE(throttle.Allow(held_back));
  EXPECT_EQ(held_back, 8);
  EXPECT_FALSE(throttle.Allow(held_back));

  // A long quiet spell refills to the burst, no further.
  clock.Advance(absl::Hours(1));
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += throttle.Allow(held_back);
  EXPECT_EQ(allowed, 20);
}

TEST(LogThrottleTest, AWallClockStepNeitherFreezesNorFloodsIt) {
  identity::FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  LogThrottle throttle(1, clock);
  int64_t held_back = 0;
  ASSERT_TRUE(throttle.Allow(held_back));
  EXPECT_FALSE(throttle.Allow(held_back));
  // The wall clock steps back an hour; a second later a line goes through.
  clock.SetTime(clock.Now() - absl::Hours(1));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(throttle.Allow(held_back));
  EXPECT_EQ(held_back, 1);
  // A step forward lets nothing extra through.
  clock.SetTime(clock.Now() + absl::Hours(2));
  EXPECT_FALSE(throttle.Allow(held_back));
}

}  // namespace
}  // namespace mayfly::agent
