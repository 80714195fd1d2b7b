// Duration parsing as written in flags and config files.
#include "identity/duration.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::InvalidWith;

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDuration("1h"), absl::Hours(1));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("7d"), absl::Hours(7 * 24));
}

TEST(DurationTest, RejectsWithTheReason) {
  EXPECT_THAT(ParseDuration(""), InvalidWith("empty"));
  EXPECT_THAT(ParseDuration("0s"), InvalidWith("must be positive"));
  EXPECT_THAT(ParseDuration("-5s"), InvalidWith("must be positive"));
  EXPECT_THAT(ParseDuration("inf"), InvalidWith("must be finite"));
  EXPECT_THAT(ParseDuration("10"), InvalidWith("missing unit"));
  EXPECT_THAT(ParseDuration("5x"), InvalidWith("not a number followed by"));
  EXPECT_THAT(ParseDuration("d"), InvalidWith("whole number"));
  EXPECT_THAT(ParseDuration("1.5d"), InvalidWith("whole number"));
  EXPECT_THAT(ParseDuration("10"), InvalidWith("\"10\""));
}

}  // namespace
}  // namespace mayfly::identity
