// The shared cluster and helpers of the etcd store's tests.
#include "identity/server/etcd/testing/test_env.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/clock.h"

namespace mayfly::server::testing {

std::string TestTmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

EtcdCluster& Cluster() {
  // Started on the main thread (gtest runs tests there), which lives until
  // exit: the members' PR_SET_PDEATHSIG is tied to it.
  static EtcdCluster* const cluster = [] {
    EtcdCluster::Options options;
    options.dir = TestTmpDir() + "/etcd";
    options.progress_notify_interval = kProgressInterval;
    const absl::Duration start = identity::RealClock().Monotonic();
    absl::StatusOr<std::unique_ptr<EtcdCluster>> started =
        EtcdCluster::Start(options);
    if (!started.ok()) {
      ADD_FAILURE() << started.status();
      std::exit(1);
    }
    std::printf("etcd cluster: 3 members healthy in %s\n",
                absl::FormatDuration(identity::RealClock().Monotonic() - start)
                    .c_str());
    // Destroyed at exit, which kills the members.
    static std::unique_ptr<EtcdCluster> owner = std::move(started).value();
    return owner.get();
  }();
  return *cluster;
}

std::unique_ptr<EtcdKvStore> NewStore(std::vector<std::string> endpoints,
                                      absl::Duration call_timeout) {
  EtcdKvStore::Options options;
  options.endpoints =
      endpoints.empty() ? Cluster().endpoints() : std::move(endpoints);
  options.call_timeout = call_timeout;
  absl::StatusOr<std::unique_ptr<EtcdKvStore>> store =
      EtcdKvStore::Create(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string TestPrefix() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat("/", info->test_suite_name(), "/", info->name(), "/");
}

int64_t Put(KvStore& store, const std::string& key, const std::string& value) {
  absl::StatusOr<TxnResult> result =
      store.Txn({}, {Op{Op::Kind::kPut, key, value}});
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result.ok() && result->succeeded);
  return result.ok() ? result->revision : -1;
}

std::function<void(const WatchBatch&)> WatchRecorder::Callback() {
  return [this](const WatchBatch& batch) {
    absl::MutexLock lock(&mu_);
    batches_.push_back(batch);
  };
}

bool WatchRecorder::WaitUntil(
    std::function<bool(const std::vector<WatchBatch>&)> done,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done(batches_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

bool WatchRecorder::WaitForEvents(size_t n, absl::Duration timeout) {
  return WaitUntil(
      [n](const std::vector<WatchBatch>& batches) {
        return CountEvents(batches) >= n || !FirstError(batches).ok();
      },
      timeout);
}

std::vector<WatchBatch> WatchRecorder::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

std::vector<WatchEvent> WatchRecorder::events() const {
  std::vector<WatchEvent> out;
  for (const WatchBatch& batch : batches()) {
    out.insert(out.end(), batch.events.begin(), batch.events.end());
  }
  return out;
}

size_t CountEvents(const std::vector<WatchBatch>& batches) {
  size_t n = 0;
  for (const WatchBatch& batch : batches) n += batch.events.size();
  return n;
}

absl::Status FirstError(const std::vector<WatchBatch>& batches) {
  for (const WatchBatch& batch : batches) {
    if (!batch.status.ok()) return batch.status;
  }
  return absl::OkStatus();
}

}  // namespace mayfly::server::testing
