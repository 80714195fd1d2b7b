// FileKvStore: transactions, persistence across reopen, the directory lock,
// watch order and replay, and a torn temporary file left by a crash.
#include "identity/server/file_kv_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TestDir(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

Op Put(std::string key, std::string value) {
  return Op{Op::Kind::kPut, std::move(key), std::move(value)};
}
Op Del(std::string key) { return Op{Op::Kind::kDelete, std::move(key), ""}; }

// Collects watch batches; waits without sleeping.
class Collector {
 public:
  void Add(const WatchBatch& b) {
    absl::MutexLock lock(&mu_);
    batches_.push_back(b);
  }
  std::vector<WatchBatch> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    mu_.AwaitWithTimeout(absl::Condition(this, &Collector::Enough),
                         absl::Seconds(10));
    return batches_;
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return batches_.size() >= want_;
  }

  absl::Mutex mu_;
  std::vector<WatchBatch> batches_ ABSL_GUARDED_BY(mu_);
  size_t want_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(FileKvStoreTest, TxnComparesAndBumpsOneRevision) {
  auto store = *FileKvStore::Open(TestDir("txn"));
  auto r1 = store->Txn({{"/a", 0}}, {Put("/a", "1"), Put("/b", "2")});
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_TRUE(r1->succeeded);
  EXPECT_EQ(r1->revision, 1);
  // /a exists now: a compare for "absent" fails and writes nothing.
  auto r2 = store->Txn({{"/a", 0}}, {Put("/a", "x")});
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->succeeded);
  EXPECT_EQ(store->Get("/a")->value, "1");
  auto r3 = store->Txn({{"/a", 1}}, {Del("/a")});
  EXPECT_TRUE(r3->succeeded);
  EXPECT_EQ(r3->revision, 2);
  EXPECT_THAT(store->Get("/a").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/a")));
  auto range = store->Range("/", 10);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->revision, 2);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].key, "/b");
  EXPECT_EQ(range->kvs[0].mod_revision, 1);
  EXPECT_THAT(store->Range("/", 0).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("more than 0 keys under /")));
  EXPECT_THAT(
      store->Txn({}, {Put(std::string(kMaxKeyBytes + 1, 'k'), "")}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("key of 4097 bytes")));
}

TEST(FileKvStoreTest, ReopenKeepsKeysAndRevisionAndModes) {
  const std::string dir = TestDir("reopen");
  {
    auto store = *FileKvStore::Open(dir);
    ASSERT_TRUE(store->Txn({}, {Put("/k1", "v1")}).ok());
    ASSERT_TRUE(store->Txn({}, {Put("/k2", std::string("a\0b", 3))}).ok());
    ASSERT_TRUE(store->Txn({}, {Del("/k1")}).ok());
  }
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir + "/store").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto store = *FileKvStore::Open(dir);
  auto range = *store->Range("/", 10);
  EXPECT_EQ(range.revision, 3);
  ASSERT_EQ(range.kvs.size(), 1u);
  EXPECT_EQ(range.kvs[0].key, "/k2");
  EXPECT_EQ(range.kvs[0].value, std::string("a\0b", 3));
  EXPECT_EQ(range.kvs[0].mod_revision, 2);
  EXPECT_EQ(store->Txn({}, {Put("/k3", "")})->revision, 4);
}

TEST(FileKvStoreTest, SecondOpenOfTheSameDirIsRefused) {
  const std::string dir = TestDir("lock");
  auto first = FileKvStore::Open(dir);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(FileKvStore::Open(dir).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is locked by another mayfly-server")));
  first->reset();
  EXPECT_TRUE(FileKvStore::Open(dir).ok());
}

TEST(FileKvStoreTest, TornTempFileIsIgnoredAndTruncatedStoreRefused) {
  const std::string dir = TestDir("torn");
  {
    auto store = *FileKvStore::Open(dir);
    ASSERT_TRUE(store->Txn({}, {Put("/k", "v")}).ok());
  }
  // What a kill -9 during a rewrite leaves: a partial temporary file.
  ASSERT_TRUE(
      identity::WriteFileAtomically(dir + "/.store.tmp.123", "MAYFLYKV1", 0600)
          .ok());
  {
    auto store = *FileKvStore::Open(dir);
    EXPECT_EQ(store->Get("/k")->value, "v");
  }
  std::string data = *identity::ReadFile(dir + "/store");
  ASSERT_TRUE(identity::WriteFileAtomically(
                  dir + "/store", data.substr(0, data.size() - 2), 0600)
                  .ok());
  EXPECT_THAT(FileKvStore::Open(dir).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("store: not a mayfly-server store file: bad "
                                 "trailer")));
}

TEST(FileKvStoreTest, WatchDeliversInOrderWithReplayAndProgress) {
  auto store = *FileKvStore::Open(TestDir("watch"));
  ASSERT_TRUE(store->Txn({}, {Put("/w/a", "1")}).ok());  // rev 1
  ASSERT_TRUE(store->Txn({}, {Put("/w/b", "2")}).ok());  // rev 2
  Collector c;
  auto handle = store->Watch("/w/", 1, [&](const WatchBatch& b) { c.Add(b); });
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(store->Txn({}, {Put("/other", "x")}).ok());             // rev 3
  ASSERT_TRUE(store->Txn({}, {Del("/w/a"), Put("/w/c", "3")}).ok());  // rev 4
  std::vector<WatchBatch> got = c.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].revision, 2);  // replayed from history
  ASSERT_EQ(got[0].events.size(), 1u);
  EXPECT_EQ(got[0].events[0].kv.key, "/w/b");
  EXPECT_EQ(got[1].revision, 3);  // progress: nothing under /w/
  EXPECT_TRUE(got[1].events.empty());
  EXPECT_EQ(got[2].revision, 4);
  ASSERT_EQ(got[2].events.size(), 2u);
  EXPECT_EQ(got[2].events[0].kind, WatchEvent::Kind::kDelete);
  EXPECT_EQ(got[2].events[0].kv.key, "/w/a");
  EXPECT_EQ(got[2].events[1].kv.key, "/w/c");
  EXPECT_EQ(got[2].events[1].kv.mod_revision, 4);
}

TEST(FileKvStoreTest, WatchFromBeforeTheStoreOpenedIsOutOfRange) {
  const std::string dir = TestDir("compacted");
  {
    auto store = *FileKvStore::Open(dir);
    ASSERT_TRUE(store->Txn({}, {Put("/k", "v")}).ok());
  }
  auto store = *FileKvStore::Open(dir);
  Collector c;
  auto handle = store->Watch("/", 0, [&](const WatchBatch& b) { c.Add(b); });
  std::vector<WatchBatch> got = c.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_THAT(got[0].status, StatusIs(absl::StatusCode::kOutOfRange,
                                      HasSubstr("revision 0 is compacted")));
}

}  // namespace
}  // namespace mayfly::server
