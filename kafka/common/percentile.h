// The latency percentiles the Kafka clients report (kafka/cli's produce
// summary, tests/kafka's probe bench): one definition, nearest rank.
#ifndef MAYFLY_KAFKA_COMMON_PERCENTILE_H_
#define MAYFLY_KAFKA_COMMON_PERCENTILE_H_

#include <vector>

#include "absl/time/time.h"

namespace mayfly::kafka::common {

// The nearest-rank percentile `p` (in (0, 1]) of `values`, which it sorts;
// zero when there are none.
absl::Duration Percentile(std::vector<absl::Duration>& values, double p);

}  // namespace mayfly::kafka::common

#endif  // MAYFLY_KAFKA_COMMON_PERCENTILE_H_
