// StoreCache: Range + Watch, the parent index, and waking subscribers.
#include "identity/server/store_cache.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "identity/log/log.h"
#include "identity/server/server_store.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

// Everything under /mayfly/v1/ (entries, ids, tokens, agents, bundle).
constexpr int64_t kMaxCachedKeys = 4 * kMaxEntries + kMaxAgents + 16;
// How long the resync thread waits between failed reloads.
constexpr absl::Duration kResyncRetry = absl::Seconds(1);

}  // namespace

bool Subscription::WaitForChange(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&changed_), timeout);
  return std::exchange(changed_, false);
}

void Subscription::Notify() {
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

absl::StatusOr<std::unique_ptr<StoreCache>> StoreCache::Create(
    KvStore& kv, const identity::Clock& clock) {
  std::unique_ptr<StoreCache> cache(new StoreCache(kv, clock));
  RETURN_IF_ERROR(cache->Load());
  cache->resync_ = std::thread([c = cache.get()] { c->ResyncLoop(); });
  return cache;
}

StoreCache::~StoreCache() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (resync_.joinable()) resync_.join();
  watch_.reset();
}

absl::Status StoreCache::Load() {
  ASSIGN_OR_RETURN(RangeResult range, kv_.Range(kKeyPrefix, kMaxCachedKeys));
  int64_t generation;
  {
    absl::MutexLock lock(&mu_);
    generation = ++generation_;
    by_parent_.clear();
    agents_.clear();
    bundle_.Clear();
    std::set<std::string> parents, agents;
    bool bundle = false;
    for (const KeyValue& kv : range.kvs) {
      ApplyLocked(kv.key, &kv.value, kv.mod_revision, parents, agents, bundle);
    }
    revision_ = range.revision;
  }
  watch_.reset();
  ASSIGN_OR_RETURN(watch_, kv_.Watch(kKeyPrefix, range.revision,
                                     [this, generation](const WatchBatch& b) {
                                       OnBatch(generation, b);
                                     }));
  // A reload may have missed anything: everyone recomputes.
  absl::MutexLock lock(&mu_);
  for (auto& [id, sub] : subscribers_) sub->Notify();
  return absl::OkStatus();
}

void StoreCache::ApplyLocked(const std::string& key, const std::string* value,
                             int64_t mod_revision,
                             std::set<std::string>& touched_parents,
                             std::set<std::string>& touched_agents,
                             bool& bundle) {
  absl::string_view rest = key;
  if (absl::ConsumePrefix(&rest, kEntriesPrefix)) {
    const size_t bar = rest.rfind('|');
    if (bar == absl::string_view::npos) return;
    std::string parent(rest.substr(0, bar));
    touched_parents.insert(parent);
    if (value == nullptr) {
      auto it = by_parent_.find(parent);
      if (it != by_parent_.end()) {
        it->second.erase(key);
        if (it->second.empty()) by_parent_.erase(it);
      }
      return;
    }
    v1::Entry e;
    if (!e.ParseFromString(*value)) {
      LogError("store_key_unparsable", {{"key", key}});
      return;
    }
    e.set_revision(mod_revision);
    by_parent_[parent][key] = std::move(e);
  } else if (absl::ConsumePrefix(&rest, kAgentsPrefix)) {
    std::string id(rest);
    if (value == nullptr) {
      touched_agents.insert(id);
      agents_.erase(id);
      return;
    }
    v1::Agent a;
    if (!a.ParseFromString(*value)) {
      LogError("store_key_unparsable", {{"key", key}});
      return;
    }
    // Every agent renewal rewrites the record (its newest SVID's serial and
    // expiry), which no Sync carries: only a change to what the agent is
    // sent (its aliases) or to whether it may sync (evicted) wakes its
    // streams. Waking them on renewals pushed the agent's full state once
    // per agent renewal (tests/bench/run_fleet_bench.sh).
    auto old = agents_.find(id);
    if (old == agents_.end() || old->second.evicted() != a.evicted() ||
        !std::equal(old->second.aliases().begin(), old->second.aliases().end(),
                    a.aliases().begin(), a.aliases().end())) {
      touched_agents.insert(id);
    }
    agents_[id] = std::move(a);
  } else if (key == kBundleKey) {
    bundle = true;
    if (value == nullptr || !bundle_.ParseFromString(*value)) bundle_.Clear();
  }
}

void StoreCache::OnBatch(int64_t generation, const WatchBatch& batch) {
  absl::MutexLock lock(&mu_);
  if (generation != generation_) return;
  if (!batch.status.ok()) {
    LogWarn("store_watch_failed", {{"error", batch.status.ToString()}});
    resync_needed_ = true;
    return;
  }
  std::set<std::string> parents, agents;
  bool bundle = false;
  for (const WatchEvent& e : batch.events) {
    ApplyLocked(e.kv.key,
                e.kind == WatchEvent::Kind::kPut ? &e.kv.value : nullptr,
                e.kv.mod_revision, parents, agents, bundle);
    if (e.kv.mod_revision > revision_) revision_ = e.kv.mod_revision;
  }
  if (batch.revision > revision_) revision_ = batch.revision;
  NotifyLocked(parents, agents, bundle);
}

void StoreCache::NotifyLocked(const std::set<std::string>& parents,
                              const std::set<std::string>& agents,
                              bool bundle) {
  if (parents.empty() && agents.empty() && !bundle) return;
  for (auto& [agent_id, sub] : subscribers_) {
    bool hit =
        bundle || agents.count(agent_id) > 0 || parents.count(agent_id) > 0;
    if (!hit) {
      auto it = agents_.find(agent_id);
      if (it != agents_.end()) {
        for (const std::string& alias : it->second.aliases()) {
          if (parents.count(alias) > 0) hit = true;
        }
      }
    }
    if (hit) sub->Notify();
  }
}

void StoreCache::ResyncLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](StoreCache* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return c->stopping_ || c->resync_needed_;
        },
        this));
    if (stopping_) return;
    resync_needed_ = false;
    mu_.Unlock();
    absl::Status status = Load();
    mu_.Lock();
    if (!status.ok()) {
      LogWarn("store_resync_failed", {{"error", status.ToString()}});
      resync_needed_ = true;
      // Not a poll of the data: a pause before retrying an unreachable
      // store, cut short by shutdown.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kResyncRetry);
    }
  }
}

StoreCache::AgentView StoreCache::ViewFor(const std::string& agent_id) const {
  absl::MutexLock lock(&mu_);
  AgentView view;
  view.revision = revision_;
  view.bundle = bundle_;
  std::vector<std::string> parents = {agent_id};
  auto it = agents_.find(agent_id);
  if (it != agents_.end()) {
    view.known = true;
    view.agent = it->second;
    parents.insert(parents.end(), it->second.aliases().begin(),
                   it->second.aliases().end());
  }
  for (const std::string& parent : parents) {
    auto p = by_parent_.find(parent);
    if (p == by_parent_.end()) continue;
    for (const auto& [key, entry] : p->second) view.entries.push_back(entry);
  }
  return view;
}

StoreCache::AgentCounts StoreCache::CountAgents() const {
  absl::MutexLock lock(&mu_);
  AgentCounts counts;
  for (const auto& [id, agent] : agents_) {
    ++(agent.evicted() ? counts.evicted : counts.attested);
  }
  return counts;
}

int64_t StoreCache::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

std::shared_ptr<Subscription> StoreCache::Subscribe(
    const std::string& agent_id) {
  auto sub = std::make_shared<Subscription>(agent_id);
  absl::MutexLock lock(&mu_);
  subscribers_.emplace(agent_id, sub);
  return sub;
}

void StoreCache::Unsubscribe(const std::shared_ptr<Subscription>& sub) {
  absl::MutexLock lock(&mu_);
  auto [begin, end] = subscribers_.equal_range(sub->agent_id());
  for (auto it = begin; it != end; ++it) {
    if (it->second == sub) {
      subscribers_.erase(it);
      return;
    }
  }
}

}  // namespace mayfly::server
