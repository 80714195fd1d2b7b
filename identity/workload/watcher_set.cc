// Watch callbacks, called without a lock: see watcher_set.h.
#include "identity/workload/watcher_set.h"

#include <algorithm>

namespace mayfly::identity::workload {

X509SvidSource::Subscription WatcherSet::Add(std::function<void()> callback) {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    callbacks_.emplace(
        id, std::make_shared<std::function<void()>>(std::move(callback)));
  }
  return X509SvidSource::Subscription(
      [weak = std::weak_ptr<WatcherSet>(shared_from_this()), id] {
        if (auto self = weak.lock()) self->Remove(id);
      });
}

void WatcherSet::Notify() {
  std::vector<std::pair<uint64_t, std::shared_ptr<std::function<void()>>>>
      snapshot;
  {
    absl::MutexLock lock(&mu_);
    snapshot.assign(callbacks_.begin(), callbacks_.end());
  }
  const std::thread::id self = std::this_thread::get_id();
  for (const auto& [id, callback] : snapshot) {
    {
      absl::MutexLock lock(&mu_);
      // Cancelled since the snapshot: its owner was promised no more calls.
      if (callbacks_.count(id) == 0) continue;
      running_.emplace_back(id, self);
    }
    (*callback)();
    absl::MutexLock lock(&mu_);
    running_.erase(
        std::find(running_.begin(), running_.end(), std::make_pair(id, self)));
  }
}

int WatcherSet::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(callbacks_.size());
}

bool WatcherSet::Running(uint64_t id, std::thread::id except) const {
  return std::any_of(running_.begin(), running_.end(), [&](const auto& call) {
    return call.first == id && call.second != except;
  });
}

void WatcherSet::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  callbacks_.erase(id);
  // A call on this thread is the callback cancelling itself: waiting for it
  // would wait forever.
  const std::thread::id self = std::this_thread::get_id();
  auto finished = [this, id, self]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !Running(id, self);
  };
  mu_.Await(absl::Condition(&finished));
}

}  // namespace mayfly::identity::workload
