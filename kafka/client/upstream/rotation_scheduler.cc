// When a relayed connection moves to a new SVID: see rotation_scheduler.h.
#include "kafka/client/upstream/rotation_scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mayfly::kafka {
namespace {

// splitmix64's finaliser (Steele, Lea, Flood 2014): a fixed, well-mixed
// permutation of 64-bit values, so nearby seeds land far apart.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

absl::Status RotationPolicy::Validate() const {
  // Written so that NaN fails too.
  if (!(rotate_at_fraction > 0.0 && rotate_at_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rotate_at_fraction must be in (0, 1), not ", rotate_at_fraction));
  }
  if (hard_deadline_margin < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("hard_deadline_margin must not be negative, not ",
                     absl::FormatDuration(hard_deadline_margin)));
  }
  if (min_spread_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_spread_window must be positive, not ",
                     absl::FormatDuration(min_spread_window)));
  }
  if (overdue_retry <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("overdue_retry must be positive, not ",
                     absl::FormatDuration(overdue_retry)));
  }
  return absl::OkStatus();
}

SvidDeadlines DeadlinesOf(const RotationPolicy& policy, const SvidLife& svid) {
  SvidDeadlines d;
  d.start = std::min(std::max(svid.received, svid.not_before), svid.not_after);
  d.due = d.start + (svid.not_after - d.start) * policy.rotate_at_fraction;
  d.hard = svid.not_after - policy.hard_deadline_margin;
  return d;
}

double SpreadFraction(uint64_t seed, uint64_t generation) {
  // The top 53 bits as a double in [0, 1).
  return static_cast<double>(Mix(seed ^ Mix(generation)) >> 11) * 0x1.0p-53;
}

absl::Time SwitchTime(const RotationPolicy& policy, uint64_t seed,
                      const SvidLife& current, const SvidLife& newer) {
  const SvidDeadlines d = DeadlinesOf(policy, current);
  const absl::Time open = newer.received;
  // Arrived at or after the hard deadline: nothing left to spread over.
  if (open >= d.hard) return open;
  // An SVID that arrives close to or after `due` still gets a window of
  // min_spread_window, but one that ends by the midpoint of what is left
  // before `hard`, so the last switch keeps time for a retry.
  const absl::Time late_end =
      std::min(open + policy.min_spread_window, open + (d.hard - open) / 2);
  // A life shorter than margin / (1 - fraction) puts `due` past `hard`.
  const absl::Time end = std::min(std::max(d.due, late_end), d.hard);
  if (end <= open) return open;
  return open + (end - open) * SpreadFraction(seed, newer.generation);
}

RotationTracker::RotationTracker(const RotationPolicy& policy, uint64_t seed,
                                 const SvidLife& current)
    : policy_(policy), seed_(seed), current_(current) {}

RotationDecision RotationTracker::Decide(
    absl::Time now, const std::optional<SvidLife>& newest) {
  RotationDecision decision;
  decision.deadlines = DeadlinesOf(policy_, current_);
  const SvidDeadlines& d = decision.deadlines;
  if (newest.has_value() && newest->generation > current_.generation) {
    const absl::Time at = SwitchTime(policy_, seed_, current_, *newest);
    if (now >= at || now >= d.hard) {
      decision.action = RotationAction::kSwitch;
      decision.at = now;
    } else {
      decision.action = RotationAction::kWait;
      decision.at = at;
    }
    return decision;
  }
  if (now < d.due && now < d.hard) {
    decision.action = RotationAction::kWait;
    decision.at = std::min(d.due, d.hard);
    return decision;
  }
  decision.newly_overdue = !overdue_counted_;
  if (decision.newly_overdue) {
    overdue_counted_ = true;
    ++overdue_count_;
  }
  if (now >= d.hard) {
    decision.action = RotationAction::kExpired;
    decision.at = now;
  } else {
    decision.action = RotationAction::kOverdue;
    decision.at = std::min(now + policy_.overdue_retry, d.hard);
  }
  return decision;
}

void RotationTracker::Switched(const SvidLife& svid) {
  current_ = svid;
  overdue_counted_ = false;
}

}  // namespace mayfly::kafka
