// Log lines and their throttle.
#include "identity/agent/log.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

TEST(LogTest, WritesOneJsonObjectALine) {
  SetLogLevel(LogLevel::kInfo);
  testing::internal::CaptureStderr();
  LogInfo("svid_renewed", {{"spiffe_id", "spiffe://example.org/web"},
                           {"note", "a \"quoted\"\nline"}});
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_THAT(out,
              MatchesRegex("\\{\"ts\":\"[0-9-]+T[0-9:.]+Z\","
                           "\"level\":\"info\",\"event\":\"svid_renewed\","
                           "\"spiffe_id\":\"spiffe://example.org/web\","
                           "\"note\":\"a \\\\\"quoted\\\\\"\\\\nline\"\\}\n"));
}

TEST(LogTest, LevelFiltersAndFieldsMayBeBuiltUp) {
  SetLogLevel(LogLevel::kWarn);
  std::vector<std::pair<absl::string_view, std::string>> fields = {{"k", "v"}};
  testing::internal::CaptureStderr();
  LogInfo("dropped", fields);
  LogWarn("kept", fields);
  const std::string out = testing::internal::GetCapturedStderr();
  SetLogLevel(LogLevel::kInfo);
  EXPECT_THAT(out, Not(HasSubstr("dropped")));
  EXPECT_THAT(out,
              HasSubstr("\"level\":\"warn\",\"event\":\"kept\",\"k\":\"v\""));
}

TEST(LogTest, ParsesLevelNames) {
  ASSERT_TRUE(ParseLogLevel("debug").ok());
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_THAT(ParseLogLevel("verbose"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"verbose\" is not one of")));
}

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
