// Entries, SVIDs and watcher groups: see registry.h.
#include "identity/agent/registry.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/keys.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// How long a failed renewal waits before the next try: short against a TTL of
// minutes, long enough not to spin on a persistent failure.
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(1);

std::string GroupKey(const std::vector<std::string>& selectors) {
  return absl::StrJoin(selectors, "\n");
}

// Whether every selector of the entry is one of the workload's (both sorted).
bool Matches(const RegistrationEntry& entry,
             const std::vector<std::string>& workload) {
  return std::includes(workload.begin(), workload.end(),
                       entry.selectors.begin(), entry.selectors.end());
}

}  // namespace

Registry::Registry(const identity::Clock& clock, absl::Duration default_ttl)
    : clock_(clock),
      default_ttl_(default_ttl),
      own_source_(std::make_unique<LocalSvidSource>(clock)),
      source_(*own_source_) {}

Registry::Registry(const identity::Clock& clock, absl::Duration default_ttl,
                   SvidSource& source)
    : clock_(clock), default_ttl_(default_ttl), source_(source) {}

void Registry::SetEntries(std::vector<RegistrationEntry> entries) {
  absl::MutexLock notify_lock(&notify_mu_);
  std::vector<Delivery> deliveries;
  std::vector<Revocation> revoked;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, std::shared_ptr<const CachedSvid>> kept;
    for (EntrySlot& slot : entries_) {
      if (slot.svid != nullptr) kept[slot.entry.Key()] = std::move(slot.svid);
    }
    entries_.clear();
    entries_.reserve(entries.size());
    for (RegistrationEntry& entry : entries) {
      EntrySlot slot{std::move(entry), nullptr};
      auto it = kept.find(slot.entry.Key());
      if (it != kept.end()) slot.svid = it->second;
      entries_.push_back(std::move(slot));
    }
    by_selector_.clear();
    for (size_t i = 0; i < entries_.size(); ++i) {
      for (const std::string& s : entries_[i].entry.selectors) {
        by_selector_[s].push_back(i);
      }
    }
    RefreshGroupsLocked(nullptr, deliveries, revoked);
  }
  Notify(deliveries, revoked);
}

void Registry::SetSigningState(std::shared_ptr<const SigningState> state) {
  absl::MutexLock notify_lock(&notify_mu_);
  std::vector<Delivery> deliveries;
  std::vector<Revocation> revoked;
  {
    absl::MutexLock lock(&mu_);
    const bool bundle_changed =
        signing_ == nullptr ||
        signing_->bundle_generation != state->bundle_generation;
    signing_ = std::move(state);
    if (bundle_changed) RefreshGroupsLocked(nullptr, deliveries, revoked);
  }
  Notify(deliveries, revoked);
}

void Registry::SvidsChanged(const std::vector<std::string>& keys) {
  absl::MutexLock notify_lock(&notify_mu_);
  std::vector<Delivery> deliveries;
  std::vector<Revocation> revoked;
  {
    absl::MutexLock lock(&mu_);
    const absl::flat_hash_set<std::string> wanted(keys.begin(), keys.end());
    std::vector<bool> changed(entries_.size(), false);
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (!wanted.empty() && !wanted.contains(entries_[i].entry.Key())) {
        continue;
      }
      entries_[i].svid = nullptr;
      changed[i] = true;
    }
    RefreshGroupsLocked(&changed, deliveries, revoked);
  }
  Notify(deliveries, revoked);
}

absl::StatusOr<X509Update> Registry::Fetch(
    const std::vector<std::string>& selectors) {
  absl::MutexLock lock(&mu_);
  return FetchLocked(selectors, nullptr);
}

absl::StatusOr<X509Update> Registry::Subscribe(
    const std::vector<std::string>& selectors,
    std::shared_ptr<X509Subscriber> subscriber) {
  absl::MutexLock lock(&mu_);
  Group* group = nullptr;
  ASSIGN_OR_RETURN(auto response, FetchLocked(selectors, &group));
  group_of_[subscriber.get()] = GroupKey(selectors);
  group->subscribers.push_back(std::move(subscriber));
  return response;
}

void Registry::Unsubscribe(const X509Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = group_of_.find(subscriber);
  if (it == group_of_.end()) return;
  auto group_it = groups_.find(it->second);
  group_of_.erase(it);
  if (group_it == groups_.end()) return;
  auto& subs = group_it->second.subscribers;
  subs.erase(std::remove_if(
                 subs.begin(), subs.end(),
                 [subscriber](const auto& s) { return s.get() == subscriber; }),
             subs.end());
  if (subs.empty()) groups_.erase(group_it);
}

std::vector<RegistrationEntry> Registry::Match(
    const std::vector<std::string>& selectors) const {
  absl::MutexLock lock(&mu_);
  std::vector<RegistrationEntry> out;
  for (size_t i : MatchLocked(selectors)) out.push_back(entries_[i].entry);
  return out;
}

absl::Time Registry::RunDue() {
  absl::MutexLock notify_lock(&notify_mu_);
  std::vector<Delivery> deliveries;
  std::vector<Revocation> revoked;
  absl::Time next = absl::InfiniteFuture();
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    std::vector<bool> watched(entries_.size(), false);
    for (const auto& [key, group] : groups_) {
      for (size_t i : group.matches) watched[i] = true;
    }
    std::vector<bool> renewed(entries_.size(), false);
    bool any_renewed = false;
    for (size_t i = 0; i < entries_.size(); ++i) {
      EntrySlot& slot = entries_[i];
      absl::Time dropped_not_after = absl::InfiniteFuture();
      if (slot.svid != nullptr && slot.svid->renew_at <= now) {
        dropped_not_after = slot.svid->not_after;
        slot.svid = nullptr;
      }
      if (slot.svid == nullptr && watched[i]) {
        const bool ok = EnsureSvidLocked(slot).ok();
        // A failed mint keeps the group on its old SVID while it is valid
        // (try again soon); an expired one is refreshed, which ends it.
        renewed[i] = ok || dropped_not_after <= now;
        any_renewed |= renewed[i];
        if (!ok) next = std::min(next, now + kRetryAfterFailure);
      }
      if (slot.svid != nullptr) next = std::min(next, slot.svid->renew_at);
    }
    if (any_renewed) RefreshGroupsLocked(&renewed, deliveries, revoked);
  }
  Notify(deliveries, revoked);
  return next;
}

bool Registry::AllSubscribersHave(uint64_t bundle_generation) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, group] : groups_) {
    for (const auto& subscriber : group.subscribers) {
      if (subscriber->DeliveredBundleGeneration() < bundle_generation) {
        return false;
      }
    }
  }
  return true;
}

Registry::Stats Registry::GetStats() const {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.entries = static_cast<int>(entries_.size());
  stats.groups = static_cast<int>(groups_.size());
  stats.subscribers = static_cast<int>(group_of_.size());
  stats.svids_minted = svids_minted_;
  for (const EntrySlot& slot : entries_) {
    if (slot.svid == nullptr) continue;
    ++stats.cached_svids;
    stats.soonest_expiry = std::min(stats.soonest_expiry, slot.svid->not_after);
  }
  return stats;
}

std::vector<size_t> Registry::MatchLocked(
    const std::vector<std::string>& selectors) const {
  // Candidates: entries sharing at least one selector with the workload.
  std::vector<size_t> candidates;
  for (const std::string& s : selectors) {
    auto it = by_selector_.find(s);
    if (it == by_selector_.end()) continue;
    candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  std::vector<size_t> out;
  for (size_t i : candidates) {
    if (Matches(entries_[i].entry, selectors)) out.push_back(i);
  }
  return out;
}

absl::Duration Registry::EffectiveTtl(const RegistrationEntry& entry) const {
  return entry.ttl > absl::ZeroDuration() ? entry.ttl : default_ttl_;
}

absl::Time Registry::RenewAtLocked(absl::Time minted, absl::Duration ttl) {
  const absl::Duration half = ttl * kRenewFraction;
  const double jitter = absl::Uniform(rng_, -kRenewJitter, kRenewJitter);
  return minted + half + half * jitter;
}

absl::Status Registry::EnsureSvidLocked(EntrySlot& slot) {
  // An SVID past its NotAfter is dropped here too, not only by RunDue: a
  // fetch between two of its turns must not be handed it.
  if (slot.svid != nullptr && slot.svid->not_after <= clock_.Now()) {
    slot.svid = nullptr;
  }
  if (slot.svid != nullptr) return absl::OkStatus();
  if (signing_ == nullptr) {
    return absl::UnavailableError("the agent has no signing key yet");
  }
  const absl::Time now = clock_.Now();
  ASSIGN_OR_RETURN(
      SvidMaterial got,
      source_.Get(slot.entry, EffectiveTtl(slot.entry), *signing_));
  auto svid = std::make_shared<CachedSvid>();
  svid->leaf_der = std::move(got.leaf_der);
  svid->key_der = std::move(got.key_der);
  // Aliasing: the chain lives in the SigningState, which stays alive as
  // long as an SVID it signed is cached.
  svid->chain_der =
      got.chain_der != nullptr
          ? std::move(got.chain_der)
          : std::shared_ptr<const std::string>(signing_, &signing_->chain_der);
  svid->not_after = got.not_after;
  // The lifetime actually granted (capped by the intermediate) sets renewal.
  svid->renew_at = got.renew_at != absl::InfinitePast()
                       ? got.renew_at
                       : RenewAtLocked(now, got.not_after - now);
  slot.svid = std::move(svid);
  ++svids_minted_;
  return absl::OkStatus();
}

absl::StatusOr<X509Update> Registry::BuildResponseLocked(
    const std::vector<size_t>& matches, absl::Time* not_after) {
  auto response = std::make_shared<X509SVIDResponse>();
  *not_after = absl::InfiniteFuture();
  for (size_t i : matches) {
    EntrySlot& slot = entries_[i];
    RETURN_IF_ERROR(EnsureSvidLocked(slot));
    X509SVID* out = response->add_svids();
    out->set_spiffe_id(slot.entry.id.ToString());
    std::string* chain = out->mutable_x509_svid();
    chain->reserve(slot.svid->leaf_der.size() + slot.svid->chain_der->size());
    chain->append(slot.svid->leaf_der);
    chain->append(*slot.svid->chain_der);
    *not_after = std::min(*not_after, slot.svid->not_after);
    out->set_x509_svid_key(slot.svid->key_der);
    out->set_bundle(signing_->bundle_der);
    out->set_hint(slot.entry.hint);
  }
  return X509Update{std::move(response), signing_->bundle_generation};
}

absl::StatusOr<X509Update> Registry::FetchLocked(
    const std::vector<std::string>& selectors, Group** group_out) {
  if (signing_ == nullptr) {
    return absl::UnavailableError("the agent has no signing key yet");
  }
  const std::string key = GroupKey(selectors);
  auto it = groups_.find(key);
  if (it != groups_.end() && it->second.update.response != nullptr &&
      it->second.not_after > clock_.Now()) {
    if (group_out != nullptr) *group_out = &it->second;
    return it->second.update;
  }
  std::vector<size_t> matches = MatchLocked(selectors);
  if (matches.empty()) {
    return absl::PermissionDeniedError(
        "no registration entry matches this workload");
  }
  absl::Time not_after;
  ASSIGN_OR_RETURN(auto response, BuildResponseLocked(matches, &not_after));
  if (group_out == nullptr) return response;
  Group& group = groups_[key];
  group.selectors = selectors;
  group.matches = std::move(matches);
  group.update = response;
  group.not_after = not_after;
  *group_out = &group;
  return response;
}

void Registry::RefreshGroupsLocked(const std::vector<bool>* changed,
                                   std::vector<Delivery>& deliveries,
                                   std::vector<Revocation>& revoked) {
  const absl::Time now = clock_.Now();
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& group = it->second;
    if (changed != nullptr &&
        std::none_of(group.matches.begin(), group.matches.end(),
                     [changed](size_t i) { return (*changed)[i]; })) {
      ++it;
      continue;
    }
    if (changed == nullptr) group.matches = MatchLocked(group.selectors);
    absl::Time not_after = absl::InfiniteFuture();
    absl::StatusOr<X509Update> response =
        group.matches.empty()
            ? absl::PermissionDeniedError(
                  "no registration entry matches this workload any more")
            : BuildResponseLocked(group.matches, &not_after);
    // A failed mint keeps the group on its old response (RunDue retries)
    // while that is valid; refused (PermissionDenied) or expired, it ends.
    if (!response.ok() &&
        (response.status().code() == absl::StatusCode::kPermissionDenied ||
         group.not_after <= now)) {
      for (auto& subscriber : group.subscribers) {
        group_of_.erase(subscriber.get());
        revoked.emplace_back(std::move(subscriber), response.status());
      }
      it = groups_.erase(it);
      continue;
    }
    if (response.ok() && (group.update.response == nullptr ||
                          group.update.response->SerializeAsString() !=
                              response->response->SerializeAsString())) {
      group.update = *std::move(response);
      group.not_after = not_after;
      for (const auto& subscriber : group.subscribers) {
        deliveries.emplace_back(subscriber, group.update);
      }
    }
    ++it;
  }
}

void Registry::Notify(const std::vector<Delivery>& deliveries,
                      const std::vector<Revocation>& revoked) {
  for (const auto& [subscriber, update] : deliveries) {
    subscriber->Deliver(update);
  }
  for (const auto& [subscriber, status] : revoked) subscriber->Revoke(status);
}

}  // namespace mayfly::agent
