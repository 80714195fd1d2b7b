// The store error counter: failed calls and failed watches count, answers
// (a key not found, a compare that did not hold) do not.
#include "identity/server/error_counting_kv_store.h"

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/server/file_kv_store.h"

namespace mayfly::server {
namespace {

// Fails every call while `failure` is set; keeps the newest watch callback
// so the test can end the watch with an error as a store would.
class FlakyKvStore : public ForwardingKvStore {
 public:
  using ForwardingKvStore::ForwardingKvStore;
  absl::StatusOr<KeyValue> Get(const std::string& key) override {
    if (!failure.ok()) return failure;
    return ForwardingKvStore::Get(key);
  }
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& c,
                                const std::vector<Op>& ops) override {
    if (!failure.ok()) return failure;
    return ForwardingKvStore::Txn(c, ops);
  }
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& p, int64_t from,
      std::function<void(const WatchBatch&)> cb) override {
    callback = cb;
    return ForwardingKvStore::Watch(p, from, std::move(cb));
  }
  absl::Status failure;
  std::function<void(const WatchBatch&)> callback;
};

TEST(ErrorCountingKvStoreTest, CountsFailuresNotAnswers) {
  auto file = *FileKvStore::Open(
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/error_counting"));
  FlakyKvStore flaky(*file);
  ErrorCountingKvStore store(flaky);

  EXPECT_TRUE(absl::IsNotFound(store.Get("/missing").status()));
  Compare absent{"/k", 0};
  Op put{Op::Kind::kPut, "/k", "v"};
  ASSERT_TRUE(store.Txn({absent}, {put}).ok());
  auto refused = store.Txn({absent}, {put});  // the compare no longer holds
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->succeeded);
  EXPECT_EQ(store.errors(), 0);

  flaky.failure = absl::UnavailableError("etcd unreachable");
  EXPECT_FALSE(store.Get("/k").ok());
  EXPECT_FALSE(store.Txn({}, {put}).ok());
  EXPECT_EQ(store.errors(), 2);

  flaky.failure = absl::OkStatus();
  std::atomic<bool> saw_error{false};
  auto watch = store.Watch("/", 0, [&](const WatchBatch& batch) {
    if (!batch.status.ok()) saw_error = true;
  });
  ASSERT_TRUE(watch.ok()) << watch.status();
  WatchBatch compacted;
  compacted.status = absl::OutOfRangeError("compacted");
  flaky.callback(compacted);
  EXPECT_EQ(store.errors(), 3);
  EXPECT_TRUE(saw_error);  // the caller still sees it
}

}  // namespace
}  // namespace mayfly::server
