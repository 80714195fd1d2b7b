// EtcdKvStore while members die: fail-over of reads, Txn never sent twice,
// and the leader killed in the middle of writes and a watch.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/server/etcd/etcd_kv_store.h"
#include "identity/server/etcd/testing/test_env.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::server::testing::Cluster;
using ::mayfly::server::testing::EtcdCluster;
using ::mayfly::server::testing::FirstError;
using ::mayfly::server::testing::kPromptly;
using ::mayfly::server::testing::NewStore;
using ::mayfly::server::testing::Put;
using ::mayfly::server::testing::TestPrefix;
using ::mayfly::server::testing::WatchRecorder;
using ::mayfly::testing_util::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Writes after the leader dies must succeed again within this (etcd's
// election timeout is 1 s; our call deadline in this test is 2 s).
constexpr absl::Duration kRecoveryBound = absl::Seconds(10);
// A restarted member is used again within this (etcd_kv_store.h).
constexpr absl::Duration kReconnectBound = absl::Seconds(20);
// Between two reads of a member that is not back yet.
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
constexpr int kWritesBefore = 20;
constexpr int kWritesAfter = 20;

absl::Duration Now() { return identity::RealClock().Monotonic(); }

// Restarts member `i` at the end of a test so the next one has 3 again.
class RestartAtEnd {
 public:
  explicit RestartAtEnd(int i) : i_(i) {}
  ~RestartAtEnd() {
    if (!Cluster().running(i_)) {
      EXPECT_TRUE(Cluster().Restart(i_, kPromptly).ok());
    }
  }

 private:
  int i_;
};

TEST(EtcdFailoverTest, ReadsPassADeadMemberAndTxnIsNotSentToIt) {
  EtcdCluster& cluster = Cluster();
  absl::StatusOr<int> leader = cluster.Leader(kPromptly);
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int dead = (*leader + 1) % EtcdCluster::kMembers;  // a follower
  const std::vector<std::string> endpoints = cluster.endpoints();
  RestartAtEnd restart(dead);
  ASSERT_TRUE(cluster.Kill(dead).ok());

  const std::string key = TestPrefix() + "k";
  auto alone = NewStore({endpoints[dead]});
  EXPECT_THAT(alone->Txn({}, {Op{Op::Kind::kPut, key, "v"}}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("etcd " + endpoints[dead] + ": Txn on \"" +
                                 key + "\": not connected (not sent)")));
  EXPECT_THAT(alone->Get(key),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no member answered: etcd " + endpoints[dead] +
                                 ": Get \"" + key + "\"")));

  // The dead member first: every call moves on to a live one.
  auto store = NewStore({endpoints[dead], endpoints[*leader],
                         endpoints[(dead + 1) % EtcdCluster::kMembers]});
  const int64_t r = Put(*store, key, "v");
  absl::StatusOr<KeyValue> got = store->Get(key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->mod_revision, r);
  WatchRecorder recorder;
  auto watch = store->Watch(TestPrefix(), r - 1, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(recorder.WaitForEvents(1));
  EXPECT_EQ(FirstError(recorder.batches()), absl::OkStatus());

  // Back again: the store that saw it dead uses it again, within a bound
  // (etcd_kv_store.h: gRPC's reconnect, about 10 s).
  const absl::Duration restarted = Now();
  ASSERT_TRUE(cluster.Restart(dead, kPromptly).ok());
  absl::StatusOr<KeyValue> again = alone->Get(key);
  while (!again.ok() && Now() < restarted + kReconnectBound) {
    absl::SleepFor(kPollInterval);
    again = alone->Get(key);
  }
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->mod_revision, r);
  std::printf(
      "member m%d restarted: a store that saw it dead reads from it "
      "again after %s (bound %s)\n",
      dead, absl::FormatDuration(Now() - restarted).c_str(),
      absl::FormatDuration(kReconnectBound).c_str());
}

TEST(EtcdFailoverTest, MemberWithoutQuorumRefusesAtOnceInsteadOfHanging) {
  EtcdCluster& cluster = Cluster();
  absl::StatusOr<int> leader = cluster.Leader(kPromptly);
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int a = (*leader + 1) % EtcdCluster::kMembers;
  const int b = (*leader + 2) % EtcdCluster::kMembers;
  RestartAtEnd restart_a(a);
  RestartAtEnd restart_b(b);
  ASSERT_TRUE(cluster.Kill(a).ok());
  ASSERT_TRUE(cluster.Kill(b).ok());

  // The survivor steps down once it misses its quorum (etcd's check-quorum,
  // an election timeout); from then on, with hasleader, it answers "no
  // leader" at once rather than holding a read until its deadline.
  auto survivor = NewStore({cluster.endpoints()[*leader]});
  const std::string key = TestPrefix() + "k";
  const absl::Duration deadline = Now() + kPromptly;
  absl::StatusOr<KeyValue> got = survivor->Get(key);
  while (
      Now() < deadline &&
      !(!got.ok() && absl::StrContains(got.status().message(), "no leader"))) {
    absl::SleepFor(kPollInterval);
    got = survivor->Get(key);
  }
  const absl::Duration before = Now();
  got = survivor->Get(key);
  const absl::Duration took = Now() - before;
  EXPECT_THAT(got,
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("etcd " + cluster.endpoints()[*leader] +
                                       ": Get \"/EtcdFailoverTest/"),
                             HasSubstr(": etcdserver: no leader"))));
  EXPECT_LT(took, EtcdKvStore::kDefaultCallTimeout / 5);
  EXPECT_THAT(survivor->Txn({}, {Op{Op::Kind::kPut, key, "v"}}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("etcdserver: no leader")));
  std::printf("a member without quorum refused a read in %s\n",
              absl::FormatDuration(took).c_str());
}

// One write, retried until it is known to have landed: create-if-absent,
// so a retry can never apply it twice, and an unknown outcome is settled
// by reading the key. Returns its revision, or -1 past `deadline`.
int64_t WriteUntilDone(KvStore& store, const std::string& key,
                       absl::Duration deadline,
                       std::vector<std::string>* failures) {
  while (Now() < deadline) {
    absl::StatusOr<TxnResult> result =
        store.Txn({Compare{key, 0}}, {Op{Op::Kind::kPut, key, key}});
    if (result.ok() && result->succeeded) return result->revision;
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
          << result.status();
      failures->push_back(std::string(result.status().message()));
    }
    absl::StatusOr<KeyValue> landed = store.Get(key);
    if (landed.ok()) return landed->mod_revision;
    if (!result.ok() || landed.status().code() != absl::StatusCode::kNotFound) {
      continue;  // try again
    }
    ADD_FAILURE() << key << ": refused, yet absent";
    return -1;
  }
  return -1;
}

// Every event of a watch from `from`, `total` in all: what `recorder` got,
// then, if its watch ended with an error, what a new watch from its last
// event brings. Sets `ended` to that error.
std::vector<WatchEvent> CatchUp(KvStore& store, const std::string& prefix,
                                const WatchRecorder& recorder, int64_t from,
                                size_t total, absl::Status* ended) {
  const std::vector<WatchBatch> batches = recorder.batches();
  std::vector<WatchEvent> events;
  for (const WatchBatch& batch : batches) {
    events.insert(events.end(), batch.events.begin(), batch.events.end());
  }
  *ended = FirstError(batches);
  if (ended->ok()) return events;
  if (!events.empty()) from = events.back().kv.mod_revision;
  WatchRecorder again;
  auto rewatch = store.Watch(prefix, from, again.Callback());
  EXPECT_TRUE(rewatch.ok()) << rewatch.status();
  EXPECT_TRUE(again.WaitForEvents(total - events.size()));
  EXPECT_EQ(FirstError(again.batches()), absl::OkStatus());
  for (const WatchEvent& e : again.events()) events.push_back(e);
  return events;
}

TEST(EtcdFailoverTest, LeaderKilledMidWritesLosesNoWriteAndNoWatchEvent) {
  EtcdCluster& cluster = Cluster();
  absl::StatusOr<int> leader = cluster.Leader(kPromptly);
  ASSERT_TRUE(leader.ok()) << leader.status();
  const std::vector<std::string> e = cluster.endpoints();
  const int follower = (*leader + 1) % EtcdCluster::kMembers;
  const int third = (*leader + 2) % EtcdCluster::kMembers;
  // The leader first: the writes and one watch start there; another watch
  // is on a follower that stays up.
  auto store = NewStore({e[*leader], e[follower], e[third]}, absl::Seconds(2));
  auto on_follower = NewStore({e[follower]});
  const std::string p = TestPrefix();
  absl::StatusOr<RangeResult> start = store->Range(p, 1);
  ASSERT_TRUE(start.ok()) << start.status();
  WatchRecorder leader_events;
  auto leader_watch =
      store->Watch(p, start->revision, leader_events.Callback());
  ASSERT_TRUE(leader_watch.ok()) << leader_watch.status();
  WatchRecorder follower_events;
  auto follower_watch =
      on_follower->Watch(p, start->revision, follower_events.Callback());
  ASSERT_TRUE(follower_watch.ok()) << follower_watch.status();

  std::vector<std::pair<std::string, int64_t>> written;
  std::vector<std::string> failures;
  auto write = [&](int i, absl::Duration deadline) {
    const std::string key = p + absl::StrFormat("%03d", i);
    const int64_t r = WriteUntilDone(*store, key, deadline, &failures);
    written.emplace_back(key, r);
    return r > 0;
  };
  for (int i = 0; i < kWritesBefore; ++i) {
    ASSERT_TRUE(write(i, Now() + kPromptly));
  }
  RestartAtEnd restart(*leader);
  const absl::Duration killed = Now();
  ASSERT_TRUE(cluster.Kill(*leader).ok());
  ASSERT_TRUE(write(kWritesBefore, killed + kRecoveryBound));
  const absl::Duration gap = Now() - killed;
  for (int i = kWritesBefore + 1; i < kWritesBefore + kWritesAfter; ++i) {
    ASSERT_TRUE(write(i, Now() + kPromptly));
  }
  absl::StatusOr<int> new_leader = cluster.Leader(kPromptly);
  ASSERT_TRUE(new_leader.ok()) << new_leader.status();
  EXPECT_NE(*new_leader, *leader);

  // The watch on the dead member ends Unavailable; the one on the follower
  // survives the election or, if that outlasts etcd's patience (hasleader),
  // ends Unavailable too. Either way a re-watch from the last event
  // delivered brings exactly the rest.
  const size_t total = written.size();
  ASSERT_TRUE(leader_events.WaitForEvents(total));
  ASSERT_TRUE(follower_events.WaitForEvents(total));
  absl::Status leader_end, follower_end;
  const std::vector<WatchEvent> seen_by_leader_watch =
      CatchUp(*store, p, leader_events, start->revision, total, &leader_end);
  const std::vector<WatchEvent> seen_by_follower_watch = CatchUp(
      *store, p, follower_events, start->revision, total, &follower_end);
  leader_watch->reset();
  follower_watch->reset();
  // (The prefix is cut at 64 bytes in messages.)
  EXPECT_THAT(
      leader_end,
      StatusIs(
          absl::StatusCode::kUnavailable,
          AllOf(
              HasSubstr("etcd " + e[*leader] + ": watch \"/EtcdFailoverTest/"),
              HasSubstr("after revision " + std::to_string(start->revision) +
                        ": stream broken: "))));
  if (!follower_end.ok()) {
    EXPECT_THAT(follower_end, StatusIs(absl::StatusCode::kUnavailable,
                                       HasSubstr("stream broken")));
  }
  for (const auto* events : {&seen_by_leader_watch, &seen_by_follower_watch}) {
    ASSERT_EQ(events->size(), total);
    for (size_t i = 0; i < total; ++i) {
      EXPECT_EQ((*events)[i].kind, WatchEvent::Kind::kPut);
      EXPECT_EQ((*events)[i].kv.key, written[i].first);
      EXPECT_EQ((*events)[i].kv.mod_revision, written[i].second);
    }
  }
  absl::StatusOr<RangeResult> all = store->Range(p, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->kvs.size(), total);

  std::printf(
      "leader m%d killed: writes succeeded again after %s (bound %s); %zu "
      "Txn calls failed Unavailable meanwhile (%s); %zu writes; the watch on "
      "the "
      "leader ended Unavailable and a re-watch caught up; the watch on a "
      "follower %s; no event lost\n",
      *leader, absl::FormatDuration(gap).c_str(),
      absl::FormatDuration(kRecoveryBound).c_str(), failures.size(),
      absl::StrJoin(failures, " | ").c_str(), total,
      follower_end.ok() ? "survived" : "ended Unavailable and caught up");
  EXPECT_LT(gap, kRecoveryBound);
}

}  // namespace
}  // namespace mayfly::server
