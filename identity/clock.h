// Time, injected.
//
// Everything that looks at time (minting, rotation, expiry checks) takes a
// Clock, so tests move a FakeClock instead of sleeping. Only RealClock reads
// the wall clock. Both implementations are thread-safe.
#ifndef MAYFLY_IDENTITY_CLOCK_H_
#define MAYFLY_IDENTITY_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mayfly::identity {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The process-wide wall clock. Never destroyed.
Clock& RealClock();

// A clock that moves only when told to. Starts at `start`.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_);
  void SetTime(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void Advance(absl::Duration by) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_CLOCK_H_
