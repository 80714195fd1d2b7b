// EtcdKvStore while members die: fail-over of reads, Txn never sent twice,
// and the leader killed in the middle of writes and a watch.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
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
using ::testing::HasSubstr;

// Writes after the leader dies must succeed again within this (etcd's
// election timeout is 1 s; our call deadline in this test is 2 s).
constexpr absl::Duration kRecoveryBound = absl::Seconds(10);
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
  EXPECT_EQ(FirstError(recorder.batches()), nullptr);
}

// One write, retried until it is known to have landed: create-if-absent,
// so a retry can never apply it twice, and an unknown outcome is settled
// by reading the key. Returns its revision, or -1 past `deadline`.
int64_t WriteUntilDone(KvStore& store, const std::string& key,
                       absl::Duration deadline, int* failures) {
  while (Now() < deadline) {
    absl::StatusOr<TxnResult> result =
        store.Txn({Compare{key, 0}}, {Op{Op::Kind::kPut, key, key}});
    if (result.ok() && result->succeeded) return result->revision;
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
          << result.status();
      ++*failures;
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

TEST(EtcdFailoverTest, LeaderKilledMidWritesLosesNoWriteAndNoWatchEvent) {
  EtcdCluster& cluster = Cluster();
  auto store = NewStore({}, absl::Seconds(2));
  const std::string p = TestPrefix();
  absl::StatusOr<RangeResult> start = store->Range(p, 1);
  ASSERT_TRUE(start.ok()) << start.status();

  WatchRecorder first;
  auto watch = store->Watch(p, start->revision, first.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();

  std::vector<std::pair<std::string, int64_t>> written;
  int failures = 0;
  auto write = [&](int i, absl::Duration deadline) {
    const std::string key = p + absl::StrFormat("%03d", i);
    const int64_t r = WriteUntilDone(*store, key, deadline, &failures);
    written.emplace_back(key, r);
    return r > 0;
  };
  for (int i = 0; i < kWritesBefore; ++i) {
    ASSERT_TRUE(write(i, Now() + kPromptly));
  }
  absl::StatusOr<int> leader = cluster.Leader(kPromptly);
  ASSERT_TRUE(leader.ok()) << leader.status();
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

  // The watch either followed every write or ended Unavailable; then a
  // new one from the last revision it delivered brings the rest.
  const size_t total = written.size();
  ASSERT_TRUE(first.WaitForEvents(total));
  std::vector<WatchEvent> events = first.events();
  const WatchBatch* error = FirstError(first.batches());
  const bool survived = error == nullptr;
  if (!survived) {
    EXPECT_THAT(error->status, StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("stream broken")));
    const int64_t from =
        events.empty() ? start->revision : events.back().kv.mod_revision;
    WatchRecorder second;
    auto rewatch = store->Watch(p, from, second.Callback());
    ASSERT_TRUE(rewatch.ok()) << rewatch.status();
    ASSERT_TRUE(second.WaitForEvents(total - events.size()));
    EXPECT_EQ(FirstError(second.batches()), nullptr);
    for (const WatchEvent& e : second.events()) events.push_back(e);
  }
  watch->reset();
  ASSERT_EQ(events.size(), total);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(events[i].kind, WatchEvent::Kind::kPut);
    EXPECT_EQ(events[i].kv.key, written[i].first);
    EXPECT_EQ(events[i].kv.mod_revision, written[i].second);
  }
  absl::StatusOr<RangeResult> all = store->Range(p, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->kvs.size(), total);

  std::printf(
      "leader m%d killed: writes succeeded again after %s (bound %s); %d "
      "calls failed Unavailable meanwhile; the watch %s; %zu writes, %zu "
      "events, none lost\n",
      *leader, absl::FormatDuration(gap).c_str(),
      absl::FormatDuration(kRecoveryBound).c_str(), failures,
      survived ? "survived" : "ended Unavailable and a re-watch caught up",
      total, events.size());
  EXPECT_LT(gap, kRecoveryBound);
}

}  // namespace
}  // namespace mayfly::server
