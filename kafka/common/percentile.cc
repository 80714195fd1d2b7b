// Nearest-rank percentiles: see percentile.h.
#include "kafka/common/percentile.h"

#include <algorithm>
#include <cmath>

namespace mayfly::kafka::common {

absl::Duration Percentile(std::vector<absl::Duration>& values, double p) {
  if (values.empty()) return absl::ZeroDuration();
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p of them at or below.
  const double rank = std::ceil(p * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::max(rank, 1.0)) - 1;
  return values[std::min(index, values.size() - 1)];
}

}  // namespace mayfly::kafka::common
