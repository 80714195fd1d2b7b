// A KvStore that counts the calls its store failed, for mayfly-server's
// mayfly_server_store_errors_total: an etcd that is unreachable, slow past
// its deadline or refusing writes shows there before agents stop renewing.
// NotFound is an answer, not an error, and is not counted; a watch that ends
// with an error (a compaction, a lost connection) is.
//
// Does not own `inner`, which must outlive it, as it must outlive the
// watches started through it. Thread-safe if `inner` is.
#ifndef MAYFLY_IDENTITY_SERVER_ERROR_COUNTING_KV_STORE_H_
#define MAYFLY_IDENTITY_SERVER_ERROR_COUNTING_KV_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "identity/server/forwarding_kv_store.h"

namespace mayfly::server {

class ErrorCountingKvStore : public ForwardingKvStore {
 public:
  using ForwardingKvStore::ForwardingKvStore;

  absl::StatusOr<RangeResult> Range(const std::string& prefix,
                                    int64_t limit) override {
    return Counted(ForwardingKvStore::Range(prefix, limit));
  }
  absl::StatusOr<KeyValue> Get(const std::string& key) override {
    return Counted(ForwardingKvStore::Get(key));
  }
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& ops) override {
    return Counted(ForwardingKvStore::Txn(compares, ops));
  }
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback) override {
    return Counted(ForwardingKvStore::Watch(
        prefix, from_revision,
        [this, callback = std::move(callback)](const WatchBatch& batch) {
          if (!batch.status.ok()) ++errors_;
          callback(batch);
        }));
  }

  // Calls and watches that failed since this store was made.
  int64_t errors() const { return errors_.load(); }

 private:
  template <typename T>
  absl::StatusOr<T> Counted(absl::StatusOr<T> result) {
    if (!result.ok() && !absl::IsNotFound(result.status())) ++errors_;
    return result;
  }

  std::atomic<int64_t> errors_{0};
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_ERROR_COUNTING_KV_STORE_H_
