// The key-value store under mayfly-server, with etcd's v3 semantics: every
// change bumps one store-wide revision; a read returns a consistent
// snapshot at a revision; a transaction applies its writes only if all of
// its compares hold; a watch delivers every change after a revision, in
// order.
//
// Two implementations: a local file store (one server, the embedded
// default: identity/server/file_kv_store.h) and etcd (two or more stateless
// replicas share it: identity/server/etcd/etcd_kv_store.h). The server's
// logic (entries, tokens, agents, bundle) sits on this interface only, so
// both stores behave alike by construction.
//
// Implementations are thread-safe. Watch callbacks run on a thread of the
// store's own and never concurrently for one watch.
#ifndef MAYFLY_IDENTITY_SERVER_KV_STORE_H_
#define MAYFLY_IDENTITY_SERVER_KV_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mayfly::server {

struct KeyValue {
  std::string key;
  std::string value;
  // The revision of the key's last change.
  int64_t mod_revision = 0;
};

struct RangeResult {
  // The store revision the snapshot was read at.
  int64_t revision = 0;
  // Sorted by key.
  std::vector<KeyValue> kvs;
};

// One condition of a transaction. mod_revision 0 means "the key does not
// exist".
struct Compare {
  std::string key;
  int64_t mod_revision = 0;
};

struct Op {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // kPut only
};

struct TxnResult {
  // False if a compare failed; nothing was written then.
  bool succeeded = false;
  // The store revision after the transaction (or at which it was refused).
  int64_t revision = 0;
};

struct WatchEvent {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  KeyValue kv;  // value empty for kDelete; mod_revision is the event's
};

// What a watch delivers: the events of one or more revisions, in order, or
// a progress notification (no events, `revision` is how far the store has
// got), or an error that ended the watch (then `status` is not OK:
// OutOfRange if `from_revision` was compacted, Unavailable if the store
// cannot be reached). After an error the caller reads again (Range) and
// starts a new watch from the revision it read at. With events, `revision`
// is the last event's: everything under the prefix up to it was delivered.
struct WatchBatch {
  absl::Status status;
  int64_t revision = 0;
  std::vector<WatchEvent> events;
};

class WatchHandle {
 public:
  // Stops the watch; no callback runs after the destructor returns.
  virtual ~WatchHandle() = default;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // For logs: "file /var/lib/mayfly-server/store" or "etcd
  // https://127.0.0.1:2379,...".
  virtual std::string Describe() const = 0;

  // Every key starting with `prefix`, at the newest revision
  // (linearizable). Bounded: more than `limit` keys is ResourceExhausted.
  virtual absl::StatusOr<RangeResult> Range(const std::string& prefix,
                                            int64_t limit) = 0;

  // The key, or NotFound.
  virtual absl::StatusOr<KeyValue> Get(const std::string& key) = 0;

  // Applies `ops` atomically if every compare holds.
  virtual absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                        const std::vector<Op>& ops) = 0;

  // Delivers every change under `prefix` after `from_revision` (exclusive),
  // then changes as they happen, with a progress notification now and then
  // while idle (etcd: progress_notify, about every 10 minutes; the file
  // store: after each write under another prefix).
  virtual absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback) = 0;
};

// The longest key and value either store accepts. etcd's default request
// limit is 1.5 MiB; an entry is a few hundred bytes.
inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr size_t kMaxValueBytes = 256 * 1024;

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_KV_STORE_H_
