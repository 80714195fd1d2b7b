// What the etcd store's tests share: one real cluster per test binary, a
// store over it, a key prefix per test, and a recorder of watch batches.
#ifndef MAYFLY_IDENTITY_SERVER_ETCD_TESTING_TEST_ENV_H_
#define MAYFLY_IDENTITY_SERVER_ETCD_TESTING_TEST_ENV_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/server/etcd/etcd_kv_store.h"
#include "identity/server/etcd/testing/etcd_cluster.h"
#include "identity/server/kv_store.h"

namespace mayfly::server::testing {

// How often the test cluster sends watch progress notifications.
inline constexpr absl::Duration kProgressInterval = absl::Milliseconds(500);
// A bound on every wait for something the cluster should do at once.
inline constexpr absl::Duration kPromptly = absl::Seconds(10);

// $TEST_TMPDIR, or /tmp outside Bazel.
std::string TestTmpDir();

// The cluster, started under $TEST_TMPDIR on first use (the test fails
// there if it cannot start) and killed at exit.
EtcdCluster& Cluster();

// A store over `endpoints` (default: every member).
std::unique_ptr<EtcdKvStore> NewStore(
    std::vector<std::string> endpoints = {},
    absl::Duration call_timeout = EtcdKvStore::kDefaultCallTimeout);

// "/SUITE/TEST/": a prefix no other test writes under.
std::string TestPrefix();

// Puts `key` = `value`, unconditionally; fails the test on error. Returns
// the revision written.
int64_t Put(KvStore& store, const std::string& key, const std::string& value);

// Collects what a watch delivers. Thread-safe.
class WatchRecorder {
 public:
  std::function<void(const WatchBatch&)> Callback();

  // Waits until `done` holds for the batches so far, up to `timeout`.
  bool WaitUntil(std::function<bool(const std::vector<WatchBatch>&)> done,
                 absl::Duration timeout = kPromptly) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `n` events have come, or an error.
  bool WaitForEvents(size_t n, absl::Duration timeout = kPromptly);

  std::vector<WatchBatch> batches() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every event of every batch, in order.
  std::vector<WatchEvent> events() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<WatchBatch> batches_ ABSL_GUARDED_BY(mu_);
};

size_t CountEvents(const std::vector<WatchBatch>& batches);
// The status of the first batch that carries an error, else OK.
absl::Status FirstError(const std::vector<WatchBatch>& batches);

}  // namespace mayfly::server::testing

#endif  // MAYFLY_IDENTITY_SERVER_ETCD_TESTING_TEST_ENV_H_
