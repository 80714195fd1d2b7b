// When a relayed Kafka connection must move to a new X.509-SVID.
//
// Issue 11: every connection moves to a new SVID "well before the old one
// expires (by about 60% of its life, spread over brokers so they do not all
// move at once)". This file is that rule and nothing else: pure arithmetic on
// wall-clock times (identity/clock.h's Now()), no I/O, no threads. The relay
// (kafka/CLIENT_DESIGN.md 1.4) asks it what to do each time it wakes up: on
// its timer, and when the X509SvidSource notifies a new SVID.
//
// Life counts from receipt. The agent backdates NotBefore by
// kNotBeforeBackdate (10 s) against clock skew, so NotBefore..NotAfter
// overstates the life by 10 s: for the soak's 10 s TTL, 60% of
// NotBefore..NotAfter is 2 s after minting, before the agent renews (at
// 45-55% of the TTL, agent/registry.h kRenewFraction/kRenewJitter), and
// every connection would be overdue every time. So the life of an SVID runs
// from `start` = max(received, NotBefore) to NotAfter; `received` is when
// the source handed the SVID to this process (the relay stamps it from
// Clock::Now() on the Watch callback). max() guards a receipt stamped before
// NotBefore by a clock that lags the agent's.
//
// For a connection running on SVID A (life start_A..NotAfter_A):
//   due       = start_A + rotate_at_fraction * (NotAfter_A - start_A)
//   hard      = NotAfter_A - kHardDeadlineMargin (1 s): no request may be
//               written on A's upstream after this (CLIENT_DESIGN.md 1.4)
//   switch_at = once a newer SVID B is available (B.received), a point in
//               the window [B.received, end] chosen by a hash of the
//               connection's seed and B's generation, where
//               end = max(due, B.received + min_spread_window), but never
//               past the midpoint of B.received..hard, so it stays well
//               before expiry even for an SVID that arrives late.
// With no newer SVID at `due` the connection is overdue: it retries every
// overdue_retry and the overdue episode is counted once.
//
// Thread-compatible: a RotationTracker belongs to one relay thread.
#ifndef MAYFLY_KAFKA_CLIENT_UPSTREAM_ROTATION_SCHEDULER_H_
#define MAYFLY_KAFKA_CLIENT_UPSTREAM_ROTATION_SCHEDULER_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mayfly::kafka {

// Issue 11: move "by about 60% of its life".
inline constexpr double kRotateAtFraction = 0.6;
// CLIENT_DESIGN.md 1.4: no request is written to an upstream after its
// SVID's NotAfter - 1 s.
inline constexpr absl::Duration kHardDeadlineMargin = absl::Seconds(1);
// The narrowest window switches are spread over, for an SVID that arrives
// close to (or after) `due`: 0.5 s is 5% of the soak's 10 s TTL and 50
// handshakes at the design's one per 20 ms per handle.
inline constexpr absl::Duration kMinSpreadWindow = absl::Milliseconds(500);
// How soon an overdue connection looks again; the source's Watch callback
// usually wakes it first.
inline constexpr absl::Duration kOverdueRetry = absl::Milliseconds(100);

struct RotationPolicy {
  double rotate_at_fraction = kRotateAtFraction;
  absl::Duration hard_deadline_margin = kHardDeadlineMargin;
  absl::Duration min_spread_window = kMinSpreadWindow;
  absl::Duration overdue_retry = kOverdueRetry;

  // InvalidArgument naming the field: the fraction must be in (0, 1), the
  // durations positive (the margin may be zero).
  absl::Status Validate() const;
};

// One SVID as the scheduler sees it.
struct SvidLife {
  // Numbers SVIDs in the order the source handed them over; larger is
  // newer. The relay assigns it (the source's snapshots carry none).
  uint64_t generation = 0;
  absl::Time not_before;
  absl::Time not_after;
  // When the source handed it to this process (Clock::Now()).
  absl::Time received;
};

// The fixed points of one SVID's life (see the header comment).
struct SvidDeadlines {
  absl::Time start;  // max(received, not_before), capped at not_after
  absl::Time due;    // start + fraction * (not_after - start)
  absl::Time hard;   // not_after - margin
};
SvidDeadlines DeadlinesOf(const RotationPolicy& policy, const SvidLife& svid);

// Where in [0, 1) a connection switches within the window for SVID
// `generation`: a hash (splitmix64) of both, so connections spread out and
// the order changes from one rotation to the next, yet a test can replay it.
double SpreadFraction(uint64_t seed, uint64_t generation);

// The switch time for a connection on `current` once `newer` is available
// (see the header comment).
absl::Time SwitchTime(const RotationPolicy& policy, uint64_t seed,
                      const SvidLife& current, const SvidLife& newer);

enum class RotationAction {
  // Nothing to do before `at` (a switch time, or `due`). A new SVID from the
  // source is a reason to ask again earlier.
  kWait,
  // Move to the newer SVID now.
  kSwitch,
  // `due` has passed and no newer SVID exists: ask again at `at`.
  kOverdue,
  // `hard` has passed and no newer SVID exists: the current upstream must
  // take no more requests (the relay closes or forces overlap).
  kExpired,
};

struct RotationDecision {
  RotationAction action = RotationAction::kWait;
  // When to ask again (kWait, kOverdue); `now` for kSwitch/kExpired.
  absl::Time at;
  // True the first time this connection's SVID is found overdue: the caller
  // adds one to its overdue_rotations counter.
  bool newly_overdue = false;
  SvidDeadlines deadlines;
};

// One connection's rotation state: the SVID it runs on, its seed, and
// whether the current SVID's overdue episode was counted.
class RotationTracker {
 public:
  // `policy` must be valid (Validate()); `seed` should differ between the
  // connections of one handle (e.g. a per-handle counter).
  RotationTracker(const RotationPolicy& policy, uint64_t seed,
                  const SvidLife& current);

  // What to do at `now`, given the newest SVID the source offers (nullopt
  // when it offers none, e.g. it is Unavailable). An SVID whose generation
  // is not larger than the current one is not newer.
  RotationDecision Decide(absl::Time now,
                          const std::optional<SvidLife>& newest);

  // The connection now runs on `svid` (a switch completed).
  void Switched(const SvidLife& svid);

  const SvidLife& current() const { return current_; }
  uint64_t seed() const { return seed_; }
  // Overdue episodes so far, one at most per SVID the connection ran on.
  uint64_t overdue_count() const { return overdue_count_; }

 private:
  const RotationPolicy policy_;
  const uint64_t seed_;
  SvidLife current_;
  bool overdue_counted_ = false;
  uint64_t overdue_count_ = 0;
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_UPSTREAM_ROTATION_SCHEDULER_H_
