// A token bucket: `per_second` tokens a second, holding at most `burst`.
// Starts full. Not thread-safe: its owner locks.
#ifndef MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_
#define MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_

#include <algorithm>

#include "absl/time/time.h"

namespace mayfly::agent {

class TokenBucket {
 public:
  // Takes a token if there is one at `now`.
  bool Take(absl::Time now, double per_second, double burst) {
    // The first call finds the bucket empty since the infinite past: full.
    tokens_ = std::min(
        burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) * per_second);
    refilled_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double tokens_ = 0;
  absl::Time refilled_ = absl::InfinitePast();
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_TOKEN_BUCKET_H_
