// SyncDelivery: what each open Sync stream on this replica has been sent,
// as the store revision of the last state it wrote. A root rotation asks
// whether every stream has been sent a bundle at or after the revision
// that first carried the next root (server_rotation.cc): the cache's
// revision covers every change up to it, so a state at revision R or later
// carries the bundle as of R.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_SERVER_SYNC_DELIVERY_H_
#define MAYFLY_IDENTITY_SERVER_SYNC_DELIVERY_H_

#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mayfly::server {

class SyncDelivery {
 public:
  using StreamId = uint64_t;

  // A new stream, sent nothing yet.
  StreamId Open() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    sent_[next_id_] = 0;
    return next_id_++;
  }
  // The stream wrote the state of store revision `revision`.
  void Sent(StreamId id, int64_t revision) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = sent_.find(id);
    if (it != sent_.end() && revision > it->second) it->second = revision;
  }
  void Close(StreamId id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    sent_.erase(id);
  }
  // How many open streams have not been sent a state at `revision` or
  // later (0 with no streams open).
  int BehindRevision(int64_t revision) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    int behind = 0;
    for (const auto& [id, sent] : sent_) behind += sent < revision ? 1 : 0;
    return behind;
  }

 private:
  mutable absl::Mutex mu_;
  StreamId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<StreamId, int64_t> sent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_SYNC_DELIVERY_H_
