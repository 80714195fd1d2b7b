// A KvStore that forwards every call to another one: the base of stores
// that step in on some calls and leave the rest alone (the server's error
// counter; in tests, a store that runs a rival's write before a Txn, or one
// that keeps a watch's callback to end it with an error).
#ifndef MAYFLY_IDENTITY_SERVER_FORWARDING_KV_STORE_H_
#define MAYFLY_IDENTITY_SERVER_FORWARDING_KV_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "identity/server/kv_store.h"

namespace mayfly::server {

// Does not own `inner`, which must outlive it. As thread-safe as `inner`.
class ForwardingKvStore : public KvStore {
 public:
  explicit ForwardingKvStore(KvStore& inner) : inner_(inner) {}

  std::string Describe() const override { return inner_.Describe(); }
  absl::StatusOr<RangeResult> Range(const std::string& prefix,
                                    int64_t limit) override {
    return inner_.Range(prefix, limit);
  }
  absl::StatusOr<KeyValue> Get(const std::string& key) override {
    return inner_.Get(key);
  }
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& ops) override {
    return inner_.Txn(compares, ops);
  }
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback) override {
    return inner_.Watch(prefix, from_revision, std::move(callback));
  }

 private:
  KvStore& inner_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_FORWARDING_KV_STORE_H_
