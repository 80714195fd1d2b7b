// StoreCache: what agents sync, kept in memory and pushed on change.
//
// Consistent with the store by etcd's recipe: Range everything under
// /mayfly/v1/ at revision R, then Watch from R (events after R), applying
// each event in order. When the watch fails (OutOfRange: compacted;
// Unavailable: store unreachable) a resync thread reads again and watches
// anew. Entries are indexed by parent, so a view for one agent reads only
// the entries of its ID and aliases.
//
// Push, not poll: each Sync stream holds a Subscription naming the parents
// it serves (the agent ID and its aliases); every applied batch that
// touches one of them, the bundle, or the agent's own record wakes it.
//
// Thread-safe. Lock order: StoreCache::mu_ before Subscription::mu_.
#ifndef MAYFLY_IDENTITY_SERVER_STORE_CACHE_H_
#define MAYFLY_IDENTITY_SERVER_STORE_CACHE_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/server/kv_store.h"
#include "identity/server/proto/server.pb.h"

namespace mayfly::server {

class Subscription {
 public:
  explicit Subscription(std::string agent_id) : agent_id_(agent_id) {}
  // Waits until a change arrived since the last call, or `timeout`
  // passed. True if there was a change (and clears it).
  bool WaitForChange(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& agent_id() const { return agent_id_; }

 private:
  const std::string agent_id_;
  absl::Mutex mu_;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
};

class StoreCache {
 public:
  // What one agent may see now.
  struct AgentView {
    int64_t revision = 0;
    bool known = false;  // an agent record exists
    v1::Agent agent;
    std::vector<v1::Entry> entries;
    v1::Bundle bundle;
  };

  // Reads the store and starts watching. `kv` must outlive the cache.
  static absl::StatusOr<std::unique_ptr<StoreCache>> Create(
      KvStore& kv, const identity::Clock& clock);
  ~StoreCache();

  AgentView ViewFor(const std::string& agent_id) const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  // Agent records in the store: attested and in good standing, and evicted.
  struct AgentCounts {
    int attested = 0;
    int evicted = 0;
  };
  AgentCounts CountAgents() const ABSL_LOCKS_EXCLUDED(mu_);

  // The subscription is woken for changes to `agent_id`'s record, its
  // entries and its aliases' entries (as of each change), and the bundle.
  std::shared_ptr<Subscription> Subscribe(const std::string& agent_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(const std::shared_ptr<Subscription>& sub)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  StoreCache(KvStore& kv, const identity::Clock& clock)
      : kv_(kv), clock_(clock) {}

  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  void OnBatch(int64_t generation, const WatchBatch& batch)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyLocked(const std::string& key, const std::string* value,
                   int64_t mod_revision, std::set<std::string>& touched_parents,
                   std::set<std::string>& touched_agents, bool& bundle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyLocked(const std::set<std::string>& parents,
                    const std::set<std::string>& agents, bool bundle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResyncLoop() ABSL_LOCKS_EXCLUDED(mu_);

  KvStore& kv_;
  const identity::Clock& clock_;

  mutable absl::Mutex mu_;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  // parent -> entry key -> entry.
  std::map<std::string, std::map<std::string, v1::Entry>> by_parent_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Agent> agents_ ABSL_GUARDED_BY(mu_);
  v1::Bundle bundle_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, std::shared_ptr<Subscription>> subscribers_
      ABSL_GUARDED_BY(mu_);
  // Bumped by each (re)load: batches of an older watch are dropped.
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool resync_needed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WatchHandle> watch_;  // replaced by the resync thread only
  std::thread resync_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_STORE_CACHE_H_
