// The rotation rule of rotation_scheduler.h on a FakeClock: life from
// receipt, every boundary of due/hard, the jitter window, the spread over
// many connections, an SVID that arrives late, and the soak's 10 s TTL with
// the agent's renewal at 45-55%.
#include "kafka/client/upstream/rotation_scheduler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::FakeClock;
using ::mayfly::identity::kNotBeforeBackdate;
using ::mayfly::testing_util::InvalidWith;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
// The soak's TTL (issue 11).
constexpr absl::Duration kSoakTtl = absl::Seconds(10);

// An SVID minted and received at `minted`, backdated as the agent does.
SvidLife Svid(uint64_t generation, absl::Time minted,
              absl::Duration ttl = kSoakTtl) {
  return SvidLife{generation, minted - kNotBeforeBackdate, minted + ttl,
                  minted};
}

TEST(RotationPolicyTest, DefaultsAreValidAndEachBadFieldIsNamed) {
  EXPECT_TRUE(RotationPolicy{}.Validate().ok());
  for (double bad : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    RotationPolicy p;
    p.rotate_at_fraction = bad;
    EXPECT_THAT(p.Validate(), InvalidWith("rotate_at_fraction")) << bad;
  }
  RotationPolicy margin;
  margin.hard_deadline_margin = -absl::Nanoseconds(1);
  EXPECT_THAT(margin.Validate(), InvalidWith("hard_deadline_margin"));
  margin.hard_deadline_margin = absl::ZeroDuration();
  EXPECT_TRUE(margin.Validate().ok());
  RotationPolicy window;
  window.min_spread_window = absl::ZeroDuration();
  EXPECT_THAT(window.Validate(), InvalidWith("min_spread_window"));
  RotationPolicy retry;
  retry.overdue_retry = absl::ZeroDuration();
  EXPECT_THAT(retry.Validate(), InvalidWith("overdue_retry"));
}

TEST(DeadlinesTest, LifeCountsFromReceiptNotFromBackdatedNotBefore) {
  const SvidDeadlines d = DeadlinesOf(RotationPolicy{}, Svid(1, kStart));
  EXPECT_EQ(d.start, kStart);
  EXPECT_EQ(d.due, kStart + absl::Seconds(6));
  EXPECT_EQ(d.hard, kStart + absl::Seconds(9));
}

TEST(DeadlinesTest, ReceiptAfterMintingShortensTheLife) {
  SvidLife svid = Svid(1, kStart);
  svid.received = kStart + absl::Seconds(5);
  const SvidDeadlines d = DeadlinesOf(RotationPolicy{}, svid);
  EXPECT_EQ(d.start, kStart + absl::Seconds(5));
  EXPECT_EQ(d.due, kStart + absl::Seconds(8));
  EXPECT_EQ(d.hard, kStart + absl::Seconds(9));
}

TEST(DeadlinesTest, ReceiptBeforeNotBeforeCountsFromNotBefore) {
  // A local clock 20 s behind the agent's.
  SvidLife svid = Svid(1, kStart);
  svid.received = kStart - absl::Seconds(20);
  const SvidDeadlines d = DeadlinesOf(RotationPolicy{}, svid);
  EXPECT_EQ(d.start, kStart - absl::Seconds(10));
  EXPECT_EQ(d.due, kStart + absl::Seconds(2));
}

TEST(DeadlinesTest, ReceiptAfterNotAfterIsDueAtOnce) {
  SvidLife svid = Svid(1, kStart);
  svid.received = kStart + absl::Seconds(30);
  const SvidDeadlines d = DeadlinesOf(RotationPolicy{}, svid);
  EXPECT_EQ(d.start, svid.not_after);
  EXPECT_EQ(d.due, svid.not_after);
}

TEST(RotationTrackerTest, WithoutANewSvidWaitsThenIsOverdueOnceThenExpired) {
  FakeClock clock(kStart);
  RotationTracker tracker(RotationPolicy{}, 7, Svid(1, kStart));
  const absl::Time due = kStart + absl::Seconds(6);
  const absl::Time hard = kStart + absl::Seconds(9);

  RotationDecision d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kWait);
  EXPECT_EQ(d.at, due);
  clock.Advance(absl::Seconds(6) - absl::Nanoseconds(1));
  d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kWait);
  EXPECT_FALSE(d.newly_overdue);

  clock.Advance(absl::Nanoseconds(1));  // exactly due
  d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kOverdue);
  EXPECT_EQ(d.at, due + kOverdueRetry);
  EXPECT_TRUE(d.newly_overdue);
  EXPECT_EQ(tracker.overdue_count(), 1);

  clock.Advance(kOverdueRetry);
  d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kOverdue);
  EXPECT_FALSE(d.newly_overdue);
  EXPECT_EQ(tracker.overdue_count(), 1);

  // The retry never sleeps past the hard deadline.
  clock.SetTime(hard - absl::Milliseconds(30));
  d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kOverdue);
  EXPECT_EQ(d.at, hard);

  clock.SetTime(hard);
  d = tracker.Decide(clock.Now(), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kExpired);
  EXPECT_EQ(d.at, hard);
  EXPECT_FALSE(d.newly_overdue);
  EXPECT_EQ(tracker.overdue_count(), 1);
}

TEST(RotationTrackerTest, ExpiredWithoutPassingThroughOverdueCountsOnce) {
  RotationTracker tracker(RotationPolicy{}, 7, Svid(1, kStart));
  const RotationDecision d =
      tracker.Decide(kStart + absl::Seconds(9), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kExpired);
  EXPECT_TRUE(d.newly_overdue);
  EXPECT_EQ(tracker.overdue_count(), 1);
}

TEST(RotationTrackerTest, NewSvidAtRenewalSwitchesAtItsSpreadPoint) {
  FakeClock clock(kStart);
  const uint64_t seed = 42;
  RotationTracker tracker(RotationPolicy{}, seed, Svid(1, kStart));
  clock.Advance(absl::Seconds(5));  // the agent renews at 50%
  const SvidLife next = Svid(2, clock.Now());
  const absl::Time due = kStart + absl::Seconds(6);
  const absl::Time at =
      clock.Now() + (due - clock.Now()) * SpreadFraction(seed, 2);
  EXPECT_EQ(SwitchTime(RotationPolicy{}, seed, tracker.current(), next), at);
  ASSERT_GT(at, clock.Now());
  ASSERT_LT(at, due);

  RotationDecision d = tracker.Decide(clock.Now(), next);
  EXPECT_EQ(d.action, RotationAction::kWait);
  EXPECT_EQ(d.at, at);
  clock.SetTime(at - absl::Nanoseconds(1));
  EXPECT_EQ(tracker.Decide(clock.Now(), next).action, RotationAction::kWait);
  clock.SetTime(at);
  d = tracker.Decide(clock.Now(), next);
  EXPECT_EQ(d.action, RotationAction::kSwitch);
  EXPECT_EQ(d.at, at);
  EXPECT_EQ(tracker.overdue_count(), 0);

  tracker.Switched(next);
  EXPECT_EQ(tracker.current().generation, 2);
  d = tracker.Decide(clock.Now(), next);  // the same SVID is not newer
  EXPECT_EQ(d.action, RotationAction::kWait);
  EXPECT_EQ(d.at, next.received + absl::Seconds(6));
}

TEST(RotationTrackerTest, AnOlderOrEqualGenerationIsNotNewer) {
  RotationTracker tracker(RotationPolicy{}, 1, Svid(5, kStart));
  const absl::Time now = kStart + absl::Seconds(7);
  for (uint64_t generation : {4, 5}) {
    const RotationDecision d =
        tracker.Decide(now, Svid(generation, kStart + absl::Seconds(5)));
    EXPECT_EQ(d.action, RotationAction::kOverdue) << generation;
  }
}

TEST(RotationTrackerTest, OverdueCountRestartsWithEachSvid) {
  RotationTracker tracker(RotationPolicy{}, 1, Svid(1, kStart));
  EXPECT_TRUE(
      tracker.Decide(kStart + absl::Seconds(6), std::nullopt).newly_overdue);
  tracker.Switched(Svid(2, kStart + absl::Seconds(7)));
  const RotationDecision d =
      tracker.Decide(kStart + absl::Seconds(13), std::nullopt);
  EXPECT_EQ(d.action, RotationAction::kOverdue);
  EXPECT_TRUE(d.newly_overdue);
  EXPECT_EQ(tracker.overdue_count(), 2);
}

TEST(RotationTrackerTest, LateSvidIsCountedOverdueThenSpreadBeforeHard) {
  FakeClock clock(kStart);
  RotationTracker tracker(RotationPolicy{}, 3, Svid(1, kStart));
  clock.Advance(absl::Seconds(6));
  EXPECT_EQ(tracker.Decide(clock.Now(), std::nullopt).action,
            RotationAction::kOverdue);
  clock.Advance(absl::Milliseconds(300));
  const SvidLife late = Svid(2, clock.Now());
  const absl::Time at =
      SwitchTime(RotationPolicy{}, 3, tracker.current(), late);
  // Window [6.3 s, 6.3 s + kMinSpreadWindow), well before hard (9 s).
  EXPECT_EQ(at, clock.Now() + kMinSpreadWindow * SpreadFraction(3, 2));
  const RotationDecision d = tracker.Decide(clock.Now(), late);
  EXPECT_EQ(d.action, RotationAction::kWait);
  EXPECT_EQ(d.at, at);
  EXPECT_EQ(tracker.Decide(at, late).action, RotationAction::kSwitch);
  EXPECT_EQ(tracker.overdue_count(), 1);
}

TEST(RotationTrackerTest, NewSvidPastHardSwitchesAtOnce) {
  RotationTracker tracker(RotationPolicy{}, 3, Svid(1, kStart));
  const absl::Time hard = kStart + absl::Seconds(9);
  const SvidLife next = Svid(2, hard + absl::Milliseconds(10));
  EXPECT_EQ(SwitchTime(RotationPolicy{}, 3, tracker.current(), next),
            next.received);
  const RotationDecision d = tracker.Decide(next.received, next);
  EXPECT_EQ(d.action, RotationAction::kSwitch);
}

TEST(RotationTrackerTest, AtHardAWaitingSwitchHappensNow) {
  // A newer SVID whose receipt is stamped in the future (a stepped clock)
  // must not keep the connection past hard.
  RotationTracker tracker(RotationPolicy{}, 3, Svid(1, kStart));
  const SvidLife next = Svid(2, kStart + absl::Seconds(30));
  const RotationDecision d = tracker.Decide(kStart + absl::Seconds(9), next);
  EXPECT_EQ(d.action, RotationAction::kSwitch);
}

// Window bounds for arrivals early, at renewal, late, and near hard, each
// for 2000 seeds: the switch time never leaves its window.
TEST(SwitchTimeTest, JitterStaysInItsWindow) {
  const RotationPolicy policy;
  const SvidLife current = Svid(1, kStart);
  const absl::Time due = kStart + absl::Seconds(6);
  const absl::Time hard = kStart + absl::Seconds(9);
  struct Case {
    absl::Duration arrival;
    absl::Time end;
  };
  const std::array<Case, 5> cases = {{
      {absl::ZeroDuration(), due},
      {absl::Seconds(5), due},
      {absl::Milliseconds(5600), due + absl::Milliseconds(100)},
      {absl::Milliseconds(7000), kStart + absl::Milliseconds(7500)},
      // Near hard: the midpoint of 8.5..9 s comes before 8.5 + 0.5 s.
      {absl::Milliseconds(8500), kStart + absl::Milliseconds(8750)},
  }};
  for (const Case& c : cases) {
    const SvidLife next = Svid(2, kStart + c.arrival);
    absl::Time lo = absl::InfiniteFuture();
    absl::Time hi = absl::InfinitePast();
    for (uint64_t seed = 0; seed < 2000; ++seed) {
      const absl::Time at = SwitchTime(policy, seed, current, next);
      lo = std::min(lo, at);
      hi = std::max(hi, at);
    }
    EXPECT_GE(lo, next.received) << c.arrival;
    EXPECT_LT(lo, next.received + (c.end - next.received) / 100) << c.arrival;
    EXPECT_LT(hi, c.end) << c.arrival;
    EXPECT_GT(hi, c.end - (c.end - next.received) / 100) << c.arrival;
    EXPECT_LT(hi, hard) << c.arrival;
  }
}

TEST(SwitchTimeTest, ManyConnectionsSpreadEvenlyAndReorderEachRotation) {
  constexpr int kConnections = 1000;
  constexpr int kBuckets = 10;
  const SvidLife current = Svid(1, kStart);
  const absl::Time open = kStart + absl::Seconds(5);
  const absl::Duration width = absl::Seconds(1);  // 5 s .. due at 6 s
  std::array<int, kBuckets> counts{};
  std::set<absl::Time> distinct;
  uint64_t first_gen2 = 0, first_gen3 = 0;
  absl::Time min_gen2 = absl::InfiniteFuture();
  absl::Time min_gen3 = absl::InfiniteFuture();
  for (uint64_t seed = 0; seed < kConnections; ++seed) {
    const absl::Time at =
        SwitchTime(RotationPolicy{}, seed, current, Svid(2, open));
    distinct.insert(at);
    ++counts[static_cast<int>((at - open) / (width / kBuckets))];
    if (at < min_gen2) {
      min_gen2 = at;
      first_gen2 = seed;
    }
    const absl::Time at3 =
        SwitchTime(RotationPolicy{}, seed, current, Svid(3, open));
    if (at3 < min_gen3) {
      min_gen3 = at3;
      first_gen3 = seed;
    }
  }
  for (int b = 0; b < kBuckets; ++b) {
    EXPECT_GE(counts[b], 70) << "bucket " << b;
    EXPECT_LE(counts[b], 130) << "bucket " << b;
  }
  EXPECT_EQ(distinct.size(), kConnections);
  EXPECT_NE(first_gen2, first_gen3);
}

TEST(SwitchTimeTest, ShortLifeKeepsTheWindowBeforeHard) {
  // 2 s of life: due (1.2 s) falls after hard (1 s).
  const SvidLife current = Svid(1, kStart, absl::Seconds(2));
  const SvidLife next = Svid(2, kStart + absl::Milliseconds(500));
  for (uint64_t seed = 0; seed < 500; ++seed) {
    const absl::Time at = SwitchTime(RotationPolicy{}, seed, current, next);
    EXPECT_GE(at, next.received);
    EXPECT_LT(at, kStart + absl::Seconds(1));
  }
}

// The soak: TTL 10 s, the agent renewing at 45-55% of the TTL (its jitter
// drawn here from a fixed list), 20 connections, 60 s on a FakeClock in
// 10 ms steps. Every connection moves once per SVID, between the new SVID's
// arrival and the old one's due time (or arrival + kMinSpreadWindow), at
// least 2 s before the hard deadline, and none is ever overdue.
TEST(RotationTrackerTest, SoakTtlOfTenSecondsNeverOverdue) {
  constexpr int kConnections = 20;
  constexpr absl::Duration kStep = absl::Milliseconds(10);
  constexpr absl::Duration kDelivery = absl::Milliseconds(20);
  const std::array<double, 6> jitter = {-0.1, 0.1, 0.0, -0.05, 0.08, -0.1};
  FakeClock clock(kStart);
  std::vector<SvidLife> svids = {Svid(1, kStart)};
  absl::Time next_mint = kStart + kSoakTtl * 0.5 * (1 + jitter[0]);
  std::vector<RotationTracker> trackers;
  for (uint64_t i = 0; i < kConnections; ++i) {
    trackers.emplace_back(RotationPolicy{}, i, svids.back());
  }
  int switches = 0;
  for (int step = 0; step < 6000; ++step) {
    clock.Advance(kStep);
    const absl::Time now = clock.Now();
    if (now >= next_mint + kDelivery) {
      SvidLife minted = Svid(svids.size() + 1, next_mint);
      minted.received = now;
      svids.push_back(minted);
      next_mint += kSoakTtl * 0.5 * (1 + jitter[svids.size() % jitter.size()]);
    }
    for (RotationTracker& t : trackers) {
      const SvidLife old = t.current();
      const RotationDecision d = t.Decide(now, svids.back());
      ASSERT_NE(d.action, RotationAction::kOverdue) << now;
      ASSERT_NE(d.action, RotationAction::kExpired) << now;
      if (d.action == RotationAction::kSwitch) {
        ASSERT_GE(now, svids.back().received);
        // By `due`, or within kMinSpreadWindow of the new SVID's arrival
        // when the agent renewed close to `due`; always well before hard.
        const SvidDeadlines d = DeadlinesOf(RotationPolicy{}, old);
        ASSERT_LE(
            now,
            std::max(d.due, svids.back().received + kMinSpreadWindow) + kStep);
        ASSERT_LT(now, d.hard - absl::Seconds(2));
        t.Switched(svids.back());
        ++switches;
      }
    }
  }
  EXPECT_GE(svids.size(), 11);
  // Every SVID but the first and possibly the last (not yet due) was taken
  // by every connection.
  EXPECT_GE(switches, kConnections * (static_cast<int>(svids.size()) - 2));
  for (const RotationTracker& t : trackers) {
    EXPECT_EQ(t.overdue_count(), 0);
    EXPECT_GE(t.current().generation, svids.size() - 1);
  }
}

}  // namespace
}  // namespace mayfly::kafka
