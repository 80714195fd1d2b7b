// A token bucket: `per_second` tokens a second, holding at most `burst`.
// Starts full. It runs on a monotonic reading (Clock::Monotonic()), never
// the wall clock: a wall-clock step back would freeze it for as long as the
// step, a step forward would refill it at once. Not thread-safe: its owner
// locks.
#ifndef MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_
#define MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_

#include <algorithm>

#include "absl/time/time.h"

namespace mayfly::agent {

class TokenBucket {
 public:
  // Takes a token if there is one at monotonic reading `now`.
  bool Take(absl::Duration now, double per_second, double burst) {
    if (!started_) {
      tokens_ = burst;
      started_ = true;
    } else {
      tokens_ = std::min(
          burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) * per_second);
    }
    refilled_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  bool started_ = false;
  double tokens_ = 0;
  absl::Duration refilled_ = absl::ZeroDuration();
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_
