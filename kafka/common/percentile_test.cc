// Nearest-rank percentiles (percentile.h): empty, one value, fewer values
// than ranks, and a hundred given in reverse.
#include "kafka/common/percentile.h"

#include <initializer_list>
#include <vector>

#include "gtest/gtest.h"

namespace mayfly::kafka::common {
namespace {

std::vector<absl::Duration> Millis(std::initializer_list<int> ms) {
  std::vector<absl::Duration> out;
  for (int m : ms) out.push_back(absl::Milliseconds(m));
  return out;
}

TEST(PercentileTest, NearestRank) {
  std::vector<absl::Duration> none;
  EXPECT_EQ(Percentile(none, 0.99), absl::ZeroDuration());
  std::vector<absl::Duration> one = Millis({7});
  EXPECT_EQ(Percentile(one, 0.5), absl::Milliseconds(7));
  std::vector<absl::Duration> four = Millis({40, 10, 30, 20});
  EXPECT_EQ(Percentile(four, 0.5), absl::Milliseconds(20));
  EXPECT_EQ(Percentile(four, 0.99), absl::Milliseconds(40));
  std::vector<absl::Duration> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(absl::Milliseconds(i));
  EXPECT_EQ(Percentile(hundred, 0.50), absl::Milliseconds(50));
  EXPECT_EQ(Percentile(hundred, 0.99), absl::Milliseconds(99));
  EXPECT_EQ(Percentile(hundred, 1.0), absl::Milliseconds(100));
}

}  // namespace
}  // namespace mayfly::kafka::common
