// The name cache under a fake clock: names live kNameCacheTtl of monotonic
// time, whatever the wall clock does.
#include "identity/agent/name_cache.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"

namespace mayfly::agent {
namespace {

class NameCacheTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  int look_ups_ = 0;
  std::string name_ = "alice";
  NameCache cache_{[this](uint32_t id) -> std::optional<std::string> {
                     ++look_ups_;
                     if (id == 0) return std::nullopt;
                     return name_;
                   },
                   clock_};
};

TEST_F(NameCacheTest, KeepsANameForItsTtl) {
  EXPECT_EQ(cache_.Get(1000), "alice");
  name_ = "bob";
  clock_.Advance(kNameCacheTtl - absl::Seconds(1));
  EXPECT_EQ(cache_.Get(1000), "alice");
  EXPECT_EQ(look_ups_, 1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(cache_.Get(1000), "bob");
  EXPECT_EQ(look_ups_, 2);
}

TEST_F(NameCacheTest, CachesThatAnIdHasNoName) {
  EXPECT_EQ(cache_.Get(0), std::nullopt);
  EXPECT_EQ(cache_.Get(0), std::nullopt);
  EXPECT_EQ(look_ups_, 1);
}

TEST_F(NameCacheTest, WallClockStepBackDoesNotKeepAStaleName) {
  EXPECT_EQ(cache_.Get(1000), "alice");
  name_ = "bob";
  clock_.SetTime(clock_.Now() - absl::Hours(1));
  clock_.Advance(kNameCacheTtl);
  EXPECT_EQ(cache_.Get(1000), "bob");
}

TEST_F(NameCacheTest, WallClockStepForwardDoesNotExpireNames) {
  EXPECT_EQ(cache_.Get(1000), "alice");
  clock_.SetTime(clock_.Now() + absl::Hours(24));
  EXPECT_EQ(cache_.Get(1000), "alice");
  EXPECT_EQ(look_ups_, 1);
}

}  // namespace
}  // namespace mayfly::agent
