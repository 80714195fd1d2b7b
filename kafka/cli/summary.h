// What a produce or consume run found, the one summary line each prints,
// and the bookkeeping behind it: the sequence numbers seen (latency
// percentiles: kafka/common/percentile.h).
//
// The lines are parsed by tests/kafka's soak and benchmark: keep the field
// names and their order.
#ifndef MAYFLY_KAFKA_CLI_SUMMARY_H_
#define MAYFLY_KAFKA_CLI_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mayfly::kafka::cli {

struct ProduceSummary {
  int64_t sent = 0;  // handed to librdkafka (or refused by it at once)
  int64_t delivered = 0;
  int64_t failed = 0;           // sent - delivered
  int64_t bytes_delivered = 0;  // keys and values
  absl::Duration elapsed;       // first produce to the end of the flush
  absl::Duration p50, p99;      // produce to delivery report, delivered only
  int64_t rotations = 0;
  int64_t auth_errors = 0;
  int64_t transport_errors = 0;
};

// "produce: sent=N delivered=N failed=N seconds=S msgs_per_s=R mb_per_s=R
// p50_ms=X p99_ms=X rotations=N auth_errors=N transport_errors=N", rates
// of delivered messages (MB = 10^6 bytes), no newline.
std::string FormatProduceSummary(const ProduceSummary& summary);

// Why a produce run failed: "failed=N" when some message was not
// delivered; empty when it passed.
std::string ProduceProblems(const ProduceSummary& summary);

struct ConsumeSummary {
  int64_t received = 0;
  int64_t distinct = 0;
  int64_t duplicated = 0;  // received - distinct
  int64_t lost = 0;        // 0 without --expect
  int64_t rebalances = 0;
  absl::Duration elapsed;  // first message to last
  int64_t rotations = 0;
  int64_t auth_errors = 0;
  int64_t transport_errors = 0;
};

// "consume: received=N distinct=N duplicated=N lost=N rebalances=N
// seconds=S msgs_per_s=R rotations=N auth_errors=N transport_errors=N",
// no newline.
std::string FormatConsumeSummary(const ConsumeSummary& summary);

// Why a consume run failed: the non-zero ones of duplicated, lost,
// rebalances and auth_errors, e.g. "duplicated=1 rebalances=2"; empty when
// it passed.
std::string ConsumeProblems(const ConsumeSummary& summary);

// Where a message was read: a copy at the same place is the consumer
// reading it again, at another place the producer writing it again.
struct ReadPlace {
  int32_t partition = -1;
  int64_t offset = -1;
};

// The sequence numbers a consumer group has seen (keys of generated
// messages, see produce.h), from any member. Thread-safe.
class SequenceTracker {
 public:
  // One message. `seq` is its key's sequence number, or nullopt when the
  // key is not one: such a message counts as received and distinct (there
  // is nothing to tell a copy by). Returns where the first copy was read
  // if this one is a duplicate.
  std::optional<ReadPlace> Record(std::optional<int64_t> seq, ReadPlace at = {})
      ABSL_LOCKS_EXCLUDED(mu_);

  int64_t received() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t distinct() const ABSL_LOCKS_EXCLUDED(mu_);
  // Of 0..expect-1, how many were never seen.
  int64_t Lost(int64_t expect) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, ReadPlace> seen_ ABSL_GUARDED_BY(mu_);
  int64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unnumbered_ ABSL_GUARDED_BY(mu_) = 0;
};

// The sequence number a key carries: decimal digits only, as produce
// generates them; nullopt otherwise.
std::optional<int64_t> SequenceOfKey(const void* key, size_t size);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_SUMMARY_H_
