// EtcdKvStore against a real 3-member etcd cluster: reads, transactions,
// watches and limits. etcd_failover_test.cc kills members.
#include "identity/server/etcd/etcd_kv_store.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/server/etcd/testing/test_env.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::server::testing::Cluster;
using ::mayfly::server::testing::CountEvents;
using ::mayfly::server::testing::FirstError;
using ::mayfly::server::testing::kProgressInterval;
using ::mayfly::server::testing::NewStore;
using ::mayfly::server::testing::Put;
using ::mayfly::server::testing::TestPrefix;
using ::mayfly::server::testing::WatchRecorder;
using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr auto kPut = WatchEvent::Kind::kPut;
constexpr auto kDelete = WatchEvent::Kind::kDelete;

MATCHER_P3(IsEvent, kind, key, mod_revision, "") {
  return arg.kind == kind && arg.kv.key == key &&
         arg.kv.mod_revision == mod_revision;
}

TEST(EtcdKvStoreTest, CreateRejectsBadOptions) {
  EtcdKvStore::Options options;
  EXPECT_THAT(
      EtcdKvStore::Create(options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no endpoints")));
  options.endpoints = {"127.0.0.1:2379", "localhost"};
  EXPECT_THAT(EtcdKvStore::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"localhost\": want host:port")));
  options.endpoints = {"127.0.0.1:70000"};
  EXPECT_THAT(EtcdKvStore::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"127.0.0.1:70000\"")));
  options.endpoints = {"127.0.0.1:2379"};
  options.cert_file = "/etc/mayfly/etcd-client.pem";
  EXPECT_THAT(EtcdKvStore::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("both cert_file and key_file")));
  options.key_file = "/nonexistent/etcd-client.key";
  options.cert_file = "/nonexistent/etcd-client.pem";
  EXPECT_THAT(EtcdKvStore::Create(options),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/nonexistent/etcd-client.pem")));
  options = EtcdKvStore::Options{{"127.0.0.1:2379"}};
  options.call_timeout = absl::ZeroDuration();
  EXPECT_THAT(EtcdKvStore::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("call_timeout must be positive")));
}

TEST(EtcdKvStoreTest, DescribeNamesEveryMember) {
  auto store = NewStore({"127.0.0.1:1", "10.0.0.2:2379"});
  EXPECT_EQ(store->Describe(), "etcd http://127.0.0.1:1,http://10.0.0.2:2379");
}

TEST(EtcdKvStoreTest, RangeIsSortedAndBounded) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  // Outside the prefix on both sides, and a longer sibling.
  Put(*store, p.substr(0, p.size() - 1), "before");
  Put(*store, p.substr(0, p.size() - 1) + "0", "after");
  absl::StatusOr<TxnResult> written = store->Txn(
      {}, {Op{Op::Kind::kPut, p + "c", "3"}, Op{Op::Kind::kPut, p + "a", "1"},
           Op{Op::Kind::kPut, p + "b", "2"}});
  ASSERT_TRUE(written.ok()) << written.status();
  const int64_t r = written->revision;

  absl::StatusOr<RangeResult> range = store->Range(p, 3);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_GE(range->revision, r);
  EXPECT_THAT(range->kvs, ElementsAre(FieldsAre(p + "a", "1", r),
                                      FieldsAre(p + "b", "2", r),
                                      FieldsAre(p + "c", "3", r)));
  EXPECT_THAT(store->Range(p, 2),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("3 keys, more than the limit of 2")));
  EXPECT_THAT(store->Range(p, 0),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("more than the limit of 0")));
  absl::StatusOr<RangeResult> empty = store->Range(p + "none/", 0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(empty->kvs, IsEmpty());
  EXPECT_GE(empty->revision, r);
  EXPECT_THAT(store->Range(p, -1), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("negative limit -1")));

  // A prefix ending in 0xff: its range ends at "bio", which is outside.
  const std::string binary = p + "bin\xff";
  const int64_t b1 = Put(*store, binary, "x");
  const int64_t b2 = Put(*store, binary + "\x01", "y");
  Put(*store, p + "bio", "outside");
  absl::StatusOr<RangeResult> bin = store->Range(binary, 10);
  ASSERT_TRUE(bin.ok()) << bin.status();
  EXPECT_THAT(bin->kvs, ElementsAre(FieldsAre(binary, "x", b1),
                                    FieldsAre(binary + "\x01", "y", b2)));
}

TEST(EtcdKvStoreTest, ReadOnOneMemberSeesWriteAcknowledgedByAnother) {
  const std::vector<std::string> endpoints = Cluster().endpoints();
  auto writer = NewStore({endpoints[0]});
  auto reader = NewStore({endpoints[2]});
  const std::string key = TestPrefix() + "k";
  for (int i = 0; i < 20; ++i) {
    const int64_t r = Put(*writer, key, std::to_string(i));
    absl::StatusOr<KeyValue> got = reader->Get(key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_THAT(*got, FieldsAre(key, std::to_string(i), r));
    absl::StatusOr<RangeResult> range = reader->Range(key, 1);
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_GE(range->revision, r);
  }
}

TEST(EtcdKvStoreTest, GetMissingKeyIsNotFound) {
  auto store = NewStore();
  const std::string key = TestPrefix() + "missing";
  EXPECT_THAT(store->Get(key),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("Get \"" + key + "\": not found")));
}

TEST(EtcdKvStoreTest, TxnCreatesOnlyIfAbsent) {
  auto store = NewStore();
  const std::string key = TestPrefix() + "k";
  absl::StatusOr<TxnResult> first =
      store->Txn({Compare{key, 0}}, {Op{Op::Kind::kPut, key, "first"}});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->succeeded);
  absl::StatusOr<TxnResult> second =
      store->Txn({Compare{key, 0}}, {Op{Op::Kind::kPut, key, "second"}});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->succeeded);
  EXPECT_GE(second->revision, first->revision);
  absl::StatusOr<KeyValue> got = store->Get(key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, FieldsAre(key, "first", first->revision));
}

TEST(EtcdKvStoreTest, TxnCompareAndSwapRefusesStaleRevision) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  const int64_t r1 = Put(*store, p + "k", "v1");
  const int64_t other = Put(*store, p + "other", "x");
  absl::StatusOr<TxnResult> swap = store->Txn(
      {Compare{p + "k", r1}, Compare{p + "other", other}},
      {Op{Op::Kind::kPut, p + "k", "v2"}, Op{Op::Kind::kDelete, p + "other"}});
  ASSERT_TRUE(swap.ok()) << swap.status();
  ASSERT_TRUE(swap->succeeded);
  const int64_t r2 = swap->revision;
  EXPECT_EQ(r2, other + 1);

  // r1 is stale now, and the key exists: nothing is written.
  absl::StatusOr<TxnResult> stale = store->Txn(
      {Compare{p + "k", r1}}, {Op{Op::Kind::kPut, p + "k", "stale"}});
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(stale->succeeded);
  EXPECT_EQ(stale->revision, r2);
  absl::StatusOr<TxnResult> absent = store->Txn(
      {Compare{p + "k", 0}}, {Op{Op::Kind::kPut, p + "k", "absent?"}});
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->succeeded);
  absl::StatusOr<RangeResult> range = store->Range(p, 10);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(range->kvs, ElementsAre(FieldsAre(p + "k", "v2", r2)));
  EXPECT_EQ(range->revision, r2);

  // A delete guarded by the current revision; then the key is absent.
  absl::StatusOr<TxnResult> del =
      store->Txn({Compare{p + "k", r2}}, {Op{Op::Kind::kDelete, p + "k", ""}});
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_TRUE(del->succeeded);
  EXPECT_THAT(store->Get(p + "k"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
  EXPECT_THAT(
      store->Txn({}, {Op{Op::Kind::kPut, p + "d", "1"},
                      Op{Op::Kind::kPut, p + "d", "2"}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate key")));
}

TEST(EtcdKvStoreTest, SizeLimits) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  const std::string longest_key = p + std::string(kMaxKeyBytes - p.size(), 'k');
  const std::string largest_value(kMaxValueBytes, 'v');
  const int64_t r = Put(*store, longest_key, largest_value);
  absl::StatusOr<KeyValue> got = store->Get(longest_key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value, largest_value);
  EXPECT_EQ(got->mod_revision, r);

  EXPECT_THAT(store->Txn({}, {Op{Op::Kind::kPut, longest_key + "k", "v"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4097 bytes, over the limit of 4096")));
  EXPECT_THAT(
      store->Txn({}, {Op{Op::Kind::kPut, p + "big", largest_value + "v"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("value of key \"" + p + "big\" is 262145 bytes")));
  EXPECT_THAT(store->Txn({Compare{longest_key + "k", 0}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Txn compare: key \"")));
  EXPECT_THAT(store->Txn({}, {Op{Op::Kind::kDelete, ""}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Txn op: empty key")));
  EXPECT_THAT(
      store->Get(longest_key + "k"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(4097 bytes)")));
  EXPECT_THAT(store->Range(longest_key + "k", 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("over the limit")));
  // Nothing of the refused writes landed.
  EXPECT_THAT(store->Get(p + "big"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
}

TEST(EtcdKvStoreTest, WatchDeliversPutsAndDeletesInOrderFromRevision) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  const int64_t r1 = Put(*store, p + "a", "1");
  const int64_t r2 = Put(*store, p + "b", "2");
  Put(*store, p.substr(0, p.size() - 1) + "0", "outside");
  absl::StatusOr<TxnResult> del =
      store->Txn({}, {Op{Op::Kind::kDelete, p + "a"}});
  ASSERT_TRUE(del.ok()) << del.status();
  const int64_t r3 = del->revision;

  WatchRecorder recorder;
  auto watch = store->Watch(p, r1, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  // Changes before the watch, after r1 only; then one made while it runs.
  ASSERT_TRUE(recorder.WaitForEvents(2));
  const int64_t r4 = Put(*store, p + "c", "3");
  ASSERT_TRUE(recorder.WaitForEvents(3));
  watch->reset();

  EXPECT_THAT(recorder.events(), ElementsAre(IsEvent(kPut, p + "b", r2),
                                             IsEvent(kDelete, p + "a", r3),
                                             IsEvent(kPut, p + "c", r4)));
  const std::vector<WatchEvent> events = recorder.events();
  EXPECT_EQ(events[0].kv.value, "2");
  EXPECT_EQ(events[1].kv.value, "");
  EXPECT_EQ(events[2].kv.value, "3");
  for (const WatchBatch& batch : recorder.batches()) {
    EXPECT_TRUE(batch.status.ok()) << batch.status;
    if (!batch.events.empty()) {
      EXPECT_EQ(batch.revision, batch.events.back().kv.mod_revision);
    }
  }
}

TEST(EtcdKvStoreTest, WatchSendsProgressWhileIdle) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  const int64_t r = Put(*store, p + "k", "v");
  WatchRecorder recorder;
  auto watch = store->Watch(p, r, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  // Writes elsewhere move the store on; the watch hears how far.
  const int64_t elsewhere = Put(*store, p.substr(0, p.size() - 1) + "0", "x");
  ASSERT_TRUE(recorder.WaitUntil(
      [&](const std::vector<WatchBatch>& batches) {
        for (const WatchBatch& b : batches) {
          if (b.events.empty() && b.status.ok() && b.revision >= elsewhere) {
            return true;
          }
        }
        return false;
      },
      10 * kProgressInterval));
  watch->reset();
  EXPECT_EQ(CountEvents(recorder.batches()), 0);
  EXPECT_EQ(FirstError(recorder.batches()), absl::OkStatus());
}

TEST(EtcdKvStoreTest, WatchFromCompactedRevisionIsOutOfRange) {
  auto store = NewStore();
  const std::string key = TestPrefix() + "k";
  const int64_t r1 = Put(*store, key, "1");
  Put(*store, key, "2");
  const int64_t r3 = Put(*store, key, "3");
  ASSERT_TRUE(Cluster().Compact(r3).ok());

  WatchRecorder recorder;
  auto watch = store->Watch(TestPrefix(), r1, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(recorder.WaitUntil([](const std::vector<WatchBatch>& batches) {
    return !FirstError(batches).ok();
  }));
  const std::vector<WatchBatch> batches = recorder.batches();
  ASSERT_EQ(batches.size(), 1);
  EXPECT_THAT(
      batches[0].status,
      StatusIs(absl::StatusCode::kOutOfRange,
               HasSubstr("after revision " + std::to_string(r1) +
                         ": compacted up to revision " + std::to_string(r3))));
  EXPECT_THAT(batches[0].events, IsEmpty());

  // From the compaction point on, history is there.
  WatchRecorder again;
  auto rewatch = store->Watch(TestPrefix(), r3 - 1, again.Callback());
  ASSERT_TRUE(rewatch.ok()) << rewatch.status();
  ASSERT_TRUE(again.WaitForEvents(1));
  EXPECT_THAT(again.events(), ElementsAre(IsEvent(kPut, key, r3)));
}

TEST(EtcdKvStoreTest, NoCallbackAfterWatchHandleIsDestroyed) {
  auto store = NewStore();
  const std::string p = TestPrefix();
  const int64_t r = Put(*store, p + "k", "0");
  WatchRecorder recorder;
  auto watch = store->Watch(p, r, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  Put(*store, p + "k", "1");
  ASSERT_TRUE(recorder.WaitForEvents(1));
  watch->reset();
  const size_t seen = recorder.batches().size();
  Put(*store, p + "k", "2");
  // Another watch sees the write; the destroyed one must not have.
  WatchRecorder witness;
  auto second = store->Watch(p, r, witness.Callback());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(witness.WaitForEvents(2));
  EXPECT_EQ(recorder.batches().size(), seen);
}

}  // namespace
}  // namespace mayfly::server
