// The log throttle: see log_throttle.h.
#include "identity/agent/log_throttle.h"

namespace mayfly::agent {

bool LogThrottle::Allow(int64_t& held_back) {
  const absl::Duration now = clock_.Monotonic();
  absl::MutexLock lock(&mu_);
  if (!bucket_.Take(now, per_second_, per_second_)) {
    ++held_back_;
    return false;
  }
  held_back = held_back_;
  held_back_ = 0;
  return true;
}

}  // namespace mayfly::agent
