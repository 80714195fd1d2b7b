// The wall clock and the fake used by tests.
#include "identity/clock.h"

#include <time.h>

namespace mayfly::identity {
namespace {

class WallClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Duration Monotonic() const override {
    timespec ts;
    // CLOCK_MONOTONIC cannot fail with a valid pointer.
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return absl::DurationFromTimespec(ts);
  }
};

}  // namespace

Clock& RealClock() {
  // Leaked on purpose: callers may use it during static destruction.
  static WallClock* const clock = new WallClock();
  return *clock;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

absl::Duration FakeClock::Monotonic() const {
  absl::MutexLock lock(&mu_);
  return monotonic_;
}

void FakeClock::SetTime(absl::Time now) {
  absl::MutexLock lock(&mu_);
  now_ = now;
}

void FakeClock::Advance(absl::Duration by) {
  absl::MutexLock lock(&mu_);
  now_ += by;
  monotonic_ += by;
}

}  // namespace mayfly::identity
