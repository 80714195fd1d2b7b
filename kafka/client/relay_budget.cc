// The process's relay budget: see relay_budget.h.
#include "kafka/client/relay_budget.h"

#include "absl/strings/str_cat.h"

namespace mayfly::kafka {

RelayBudget& RelayBudget::Process() {
  static RelayBudget* const budget = new RelayBudget();
  return *budget;
}

absl::StatusOr<RelayBudget::Slot> RelayBudget::Acquire(
    int64_t max_connections) {
  int64_t now = connections_.load();
  do {
    if (now >= max_connections) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the process already relays ", now,
                       " connections (ClientOptions.max_connections is ",
                       max_connections, ")"));
    }
  } while (!connections_.compare_exchange_weak(now, now + 1));
  return Slot(this);
}

}  // namespace mayfly::kafka
