// WatcherSet: the callbacks registered with an X509SvidSource's Watch, and
// the one safe way to call them.
//
// Shared by the Workload API source and the fake so that both keep the
// contract in x509_svid_source.h: callbacks run with no lock held, and a
// cancelled subscription's callback is neither running nor called again once
// Cancel returns (unless it cancels itself from inside the call, which
// would otherwise wait for itself forever).
//
// Owned through a shared_ptr: each Subscription holds a weak_ptr, so one
// that outlives the source cancels nothing and touches no freed memory.
// Thread-safe; Notify may run on several threads at once.
#ifndef MAYFLY_IDENTITY_WORKLOAD_WATCHER_SET_H_
#define MAYFLY_IDENTITY_WORKLOAD_WATCHER_SET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "identity/workload/x509_svid_source.h"

namespace mayfly::identity::workload {

class WatcherSet : public std::enable_shared_from_this<WatcherSet> {
 public:
  static std::shared_ptr<WatcherSet> Create() {
    return std::shared_ptr<WatcherSet>(new WatcherSet());
  }

  X509SvidSource::Subscription Add(std::function<void()> callback)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Calls every callback registered now, one after the other, on this
  // thread, with mu_ released around each call.
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);

  int size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  WatcherSet() = default;

  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  bool Running(uint64_t id, std::thread::id except) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // shared_ptr so a call in progress keeps its callback alive after Remove.
  std::map<uint64_t, std::shared_ptr<std::function<void()>>> callbacks_
      ABSL_GUARDED_BY(mu_);
  // The calls in progress: which callback, on which thread.
  std::vector<std::pair<uint64_t, std::thread::id>> running_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_WATCHER_SET_H_
