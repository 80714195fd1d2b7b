// Time, injected.
//
// Everything that looks at time takes a Clock, so tests move a FakeClock
// instead of sleeping. Only RealClock reads the system's clocks. Both
// implementations are thread-safe.
//
// A Clock gives two readings, for two different questions:
//   Now()        the wall clock, for what certificates and tokens say:
//                minting, expiry, NotBefore/NotAfter. It can step (NTP, an
//                operator, a VM resumed).
//   Monotonic()  time since an arbitrary fixed point that never steps, for
//                rate limits, timeouts and intervals. Only differences of
//                two readings mean anything. It is a Duration, not a Time,
//                so the two cannot be mixed by mistake.
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
  virtual absl::Duration Monotonic() const = 0;
};

// The process-wide wall clock. Never destroyed.
Clock& RealClock();

// A clock that moves only when told to. Starts at wall time `start` and
// monotonic reading zero.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration Monotonic() const override ABSL_LOCKS_EXCLUDED(mu_);
  // Steps the wall clock only, as NTP or an operator would: the monotonic
  // reading does not move.
  void SetTime(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Time passes: both readings move by `by` (which must not be negative).
  void Advance(absl::Duration by) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Duration monotonic_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_CLOCK_H_
