// What the members of a consume run's group hold, from their rebalance
// callbacks: when the group is steady, and how many rebalances came after.
//
// Steady: every member holds at least one partition of the topic and
// together they hold all of them, each once. Before that, joining members
// move partitions around as a matter of course; every rebalance callback
// after it is a rebalance the run counts (issue 11: "rebalances counted
// from the consumers' rebalance callbacks after the first assignment"),
// until Closing() (leaving the group makes the others rebalance).
// Thread-safe.
#ifndef MAYFLY_KAFKA_CLI_GROUP_STATE_H_
#define MAYFLY_KAFKA_CLI_GROUP_STATE_H_

#include <cstdint>
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mayfly::kafka::cli {

class GroupState {
 public:
  explicit GroupState(int members) : held_(members) {}

  // The topic's partition count, once known (from metadata).
  void SetPartitionCount(int32_t count) ABSL_LOCKS_EXCLUDED(mu_);

  // Member `member`'s rebalance callback. `replace`: the eager protocol
  // (an assignment is the member's whole set, a revocation takes all);
  // otherwise cooperative (both are increments).
  void Assigned(int member, const std::vector<int32_t>& partitions,
                bool replace) ABSL_LOCKS_EXCLUDED(mu_);
  void Revoked(int member, const std::vector<int32_t>& partitions, bool replace)
      ABSL_LOCKS_EXCLUDED(mu_);

  // From now on, callbacks are the run leaving the group: not counted.
  void Closing() ABSL_LOCKS_EXCLUDED(mu_);

  // Once true, stays true.
  bool steady() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t rebalances() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Counts a callback after steadiness; called before the change.
  void CountCallback() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateSteady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::set<int32_t>> held_ ABSL_GUARDED_BY(mu_);
  int32_t partitions_ ABSL_GUARDED_BY(mu_) = -1;  // unknown
  bool steady_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t rebalances_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_GROUP_STATE_H_
