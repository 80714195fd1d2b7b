// A throttle for the log lines a caller can trigger at will: refused calls
// and refused connections. Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_LOG_THROTTLE_H_
#define MAYFLY_IDENTITY_AGENT_LOG_THROTTLE_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/token_bucket.h"
#include "identity/clock.h"

namespace mayfly::agent {

// Lets at most `per_second` lines a second through (in bursts of as many),
// so that a caller retrying in a loop cannot flood the log. Runs on the
// clock's monotonic reading, so a wall-clock step neither mutes nor floods
// it.
class LogThrottle {
 public:
  LogThrottle(int per_second, const identity::Clock& clock)
      : per_second_(per_second), clock_(clock) {}
  // True if a line may be written now; then `held_back` is how many lines
  // were refused since the last one let through.
  bool Allow(int64_t& held_back) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int per_second_;
  const identity::Clock& clock_;
  absl::Mutex mu_;
  TokenBucket bucket_ ABSL_GUARDED_BY(mu_);
  int64_t held_back_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_LOG_THROTTLE_H_
