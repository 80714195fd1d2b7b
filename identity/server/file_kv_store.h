// FileKvStore: the KvStore of a single mayfly-server (the embedded default,
// no other process to run).
//
// Every key lives in memory. The whole store is one file, STATE_DIR/store,
// rewritten atomically on every write (temporary file, fsync, rename, fsync
// of the directory: identity/file_util.h), so a kill -9 at any moment leaves
// the previous or the next state, whole; a temporary file left behind by a
// crash is never read. Writing everything on each Txn is linear in the
// store's size: fine for the thousands of entries one server holds, and the
// reason an HA or larger deployment uses etcd.
//
// The directory is created 0700 (the file is 0600) and locked with an
// exclusive flock for the store's lifetime: a second server pointed at the
// same directory fails to open instead of overwriting the first one's
// writes.
//
// Revisions are etcd's: one store-wide counter, bumped by each Txn that
// writes, persisted with the keys. Watches are served from the last
// kWatchHistory write batches kept in memory; a watch from before them is
// OutOfRange (as a compacted etcd revision). Callbacks run on one dispatcher
// thread of the store's own, in revision order.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_SERVER_FILE_KV_STORE_H_
#define MAYFLY_IDENTITY_SERVER_FILE_KV_STORE_H_

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/server/kv_store.h"
#include "identity/unique_fd.h"

namespace mayfly::server {

class FileKvStore : public KvStore {
 public:
  // The file in the state directory that holds the store.
  static constexpr char kStoreFile[] = "store";
  // Write batches kept for watches that start in the past.
  static constexpr size_t kWatchHistory = 4096;
  // The most keys the store holds; a write beyond is ResourceExhausted.
  static constexpr size_t kMaxKeys = 1 << 20;

  // Opens (or creates) the store in `state_dir`. FailedPrecondition if
  // another FileKvStore holds the directory's lock; InvalidArgument naming
  // the file if the store file is not one this class wrote.
  static absl::StatusOr<std::unique_ptr<FileKvStore>> Open(
      const std::string& state_dir);

  ~FileKvStore() override;

  std::string Describe() const override;
  absl::StatusOr<RangeResult> Range(const std::string& prefix,
                                    int64_t limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<KeyValue> Get(const std::string& key) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& ops) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback) override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Value {
    std::string value;
    int64_t mod_revision = 0;
  };
  struct Watcher {
    std::string prefix;
    std::function<void(const WatchBatch&)> callback;
    std::deque<WatchBatch> pending;
    bool delivering = false;
  };
  class Handle;

  FileKvStore(std::string dir, identity::UniqueFd lock,
              std::map<std::string, Value> kvs, int64_t revision);

  absl::Status PersistLocked(const std::map<std::string, Value>& kvs,
                             int64_t revision) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueLocked(int64_t revision, const std::vector<WatchEvent>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unwatch(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  void DispatchLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  const identity::UniqueFd lock_;

  mutable absl::Mutex mu_;
  std::map<std::string, Value> kvs_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_);
  // Write batches, oldest first: (revision, events).
  std::deque<std::pair<int64_t, std::vector<WatchEvent>>> history_
      ABSL_GUARDED_BY(mu_);
  // Watches from before this revision cannot be served.
  int64_t oldest_watchable_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  int64_t next_watcher_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id dispatcher_id_;
  std::thread dispatcher_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_FILE_KV_STORE_H_
