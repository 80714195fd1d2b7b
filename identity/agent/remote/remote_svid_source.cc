// SVIDs signed by mayfly-server, fetched ahead of use: see
// remote_svid_source.h.
#include "identity/agent/remote/remote_svid_source.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/csr.h"
#include "identity/keys.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::agent::remote {
namespace {

namespace pb = ::mayfly::server::v1;

// SPIRE renews at half the lifetime, spread by 10%, as the registry does.
constexpr double kRenewFraction = 0.5;
constexpr double kRenewJitter = 0.1;

std::string TimeText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

// A freshly signed SVID for `entry` from `result`, checked to certify `key`.
absl::StatusOr<SvidMaterial> FromResult(const RegistrationEntry& entry,
                                        const pb::SignX509Result& result,
                                        const EVP_PKEY& key) {
  if (result.chain().empty()) {
    return absl::InternalError("mayfly-server sent an empty chain");
  }
  ASSIGN_OR_RETURN(identity::CertChain leaf,
                   identity::CertsFromDer(result.chain(0)));
  if (leaf.size() != 1) {
    return absl::InternalError("mayfly-server sent an unreadable leaf");
  }
  // Never serve a certificate for an identity other than the entry's, nor
  // one for a key other than the one kept.
  absl::StatusOr<identity::SpiffeId> id = identity::SpiffeIdFromCert(*leaf[0]);
  if (!id.ok() || !(*id == entry.id)) {
    return absl::InternalError(absl::StrCat(
        "mayfly-server's certificate for ", entry.id.ToString(), " names ",
        id.ok() ? id->ToString() : std::string(id.status().message())));
  }
  if (!identity::KeyMatchesCert(key, *leaf[0])) {
    return absl::InternalError(
        absl::StrCat("mayfly-server's certificate for ", entry.id.ToString(),
                     " does not certify the key of the CSR sent"));
  }
  SvidMaterial out;
  out.leaf_der = result.chain(0);
  auto chain = std::make_shared<std::string>();
  for (int i = 1; i < result.chain_size(); ++i) chain->append(result.chain(i));
  out.chain_der = std::move(chain);
  out.not_after = absl::FromUnixSeconds(result.not_after_unix());
  ASSIGN_OR_RETURN(out.key_der, identity::PrivateKeyToPkcs8Der(key));
  return out;
}

}  // namespace

RemoteSvidSource::RemoteSvidSource(SignBatch sign, const StateCache* cache,
                                   const identity::Clock& clock)
    : sign_(std::move(sign)), cache_(cache), clock_(clock) {}

absl::StatusOr<SvidMaterial> RemoteSvidSource::Get(
    const RegistrationEntry& entry, absl::Duration /*ttl*/,
    const SigningState& /*signing*/) {
  absl::MutexLock lock(&mu_);
  if (!evicted_.empty()) return absl::PermissionDeniedError(evicted_);
  auto it = held_.find(entry.Key());
  const std::string outage =
      unreachable_since_ == absl::InfiniteFuture()
          ? ""
          : absl::StrCat("; mayfly-server unreachable since ",
                         TimeText(unreachable_since_));
  if (it == held_.end()) {
    return absl::UnavailableError(
        absl::StrCat("no SVID for ", entry.id.ToString(),
                     " yet: it is being fetched from mayfly-server", outage));
  }
  if (it->second.svid.not_after <= clock_.Now()) {
    return absl::UnavailableError(
        absl::StrCat("the SVID for ", entry.id.ToString(), " expired at ",
                     TimeText(it->second.svid.not_after),
                     " and mayfly-server has not renewed it", outage));
  }
  SvidMaterial out = it->second.svid;
  // Renewals are pushed (Registry::SvidsChanged); the registry need only
  // come back when this one expires.
  out.renew_at = out.not_after;
  return out;
}

void RemoteSvidSource::LoadFromDisk(
    const std::vector<RegistrationEntry>& entries) {
  if (cache_ == nullptr) return;
  std::vector<cachepb::CachedSvid> saved = cache_->LoadSvids();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  for (const RegistrationEntry& e : entries)
    entries_.insert_or_assign(e.Key(), e);
  for (cachepb::CachedSvid& s : saved) {
    const absl::Time not_after = absl::FromUnixSeconds(s.not_after_unix());
    if (not_after <= now || !entries_.contains(s.entry_key())) continue;
    Held held;
    held.entry_id = s.entry_id();
    held.svid.leaf_der = std::move(*s.mutable_leaf_der());
    held.svid.key_der = std::move(*s.mutable_key_der());
    held.svid.chain_der =
        std::make_shared<std::string>(std::move(*s.mutable_chain_der()));
    held.svid.not_after = not_after;
    // Issued at an unknown time: renew at once, which the loop does as soon
    // as a server answers.
    held.renew_at = now;
    held_[s.entry_key()] = std::move(held);
  }
}

absl::StatusOr<std::vector<std::string>> RemoteSvidSource::Update(
    const std::vector<RegistrationEntry>& entries) {
  absl::MutexLock fetch_lock(&fetch_mu_);
  std::vector<RegistrationEntry> todo;
  std::vector<std::string> dropped;
  {
    absl::MutexLock lock(&mu_);
    entries_.clear();
    retry_at_.clear();  // a new state: ask for everything missing again
    for (const RegistrationEntry& e : entries) {
      const std::string key = e.Key();
      entries_.insert_or_assign(key, e);
      if (!held_.contains(key)) todo.push_back(e);
    }
    for (auto it = held_.begin(); it != held_.end();) {
      if (entries_.contains(it->first)) {
        ++it;
        continue;
      }
      dropped.push_back(it->first);
      if (cache_ != nullptr) {
        cache_->RemoveSvid(it->second.entry_id).IgnoreError();
      }
      held_.erase(it++);
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> changed, Fetch(todo));
  changed.insert(changed.end(), dropped.begin(), dropped.end());
  return changed;
}

absl::StatusOr<std::vector<std::string>> RemoteSvidSource::RenewDue() {
  absl::MutexLock fetch_lock(&fetch_mu_);
  std::vector<RegistrationEntry> todo;
  {
    absl::MutexLock lock(&mu_);
    if (!evicted_.empty()) return std::vector<std::string>();
    const absl::Time now = clock_.Now();
    const absl::Time horizon = now + kRenewAhead;
    for (const auto& [key, entry] : entries_) {
      auto retry = retry_at_.find(key);
      if (retry != retry_at_.end() && retry->second > now) continue;
      auto it = held_.find(key);
      if (it == held_.end() || it->second.renew_at <= horizon) {
        todo.push_back(entry);
      }
    }
  }
  return Fetch(todo);
}

absl::Time RemoteSvidSource::NextRenewal() const {
  absl::MutexLock lock(&mu_);
  if (!evicted_.empty()) return absl::InfiniteFuture();
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [key, entry] : entries_) {
    auto it = held_.find(key);
    auto retry = retry_at_.find(key);
    // A missing SVID is due now (its fetch failed), or when it may be asked
    // for again.
    next = std::min(next, it != held_.end()          ? it->second.renew_at
                          : retry != retry_at_.end() ? retry->second
                                                     : absl::InfinitePast());
  }
  return next;
}

absl::StatusOr<std::vector<std::string>> RemoteSvidSource::Fetch(
    const std::vector<RegistrationEntry>& todo) {
  std::vector<std::string> changed;
  for (size_t begin = 0; begin < todo.size(); begin += kMaxCsrsPerCall) {
    const size_t end = std::min(todo.size(), begin + kMaxCsrsPerCall);
    std::vector<identity::UniqueEvpPkey> keys;
    pb::SignX509Request request;
    for (size_t i = begin; i < end; ++i) {
      ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                       identity::GenerateKey(identity::kDefaultKeyType));
      ASSIGN_OR_RETURN(
          std::string csr,
          identity::MakeSvidCsrDer(*key, todo[i].id, todo[i].dns_names));
      pb::CsrForEntry* item = request.add_csrs();
      item->set_entry_id(todo[i].entry_id);
      item->set_csr(std::move(csr));
      keys.push_back(std::move(key));
    }
    const absl::Time issued = clock_.Now();
    absl::StatusOr<pb::SignX509Response> response = sign_(request);
    absl::MutexLock lock(&mu_);
    ++stats_.sign_calls;
    if (!response.ok()) return response.status();
    stats_.last_signed = clock_.Now();
    for (size_t i = begin; i < end; ++i) {
      const RegistrationEntry& entry = todo[i];
      const pb::SignX509Result& result = response->results(i - begin);
      const std::string key = entry.Key();
      if (result.error_code() != 0) {
        ++stats_.refused;
        retry_at_[key] = clock_.Now() + kRetryRefused;
        LogWarn("svid_refused", {{"spiffe_id", entry.id.ToString()},
                                 {"entry_id", entry.entry_id},
                                 {"code", std::to_string(result.error_code())},
                                 {"error", result.error()}});
        // Refused for good: this node may no longer serve it.
        if (result.error_code() ==
                static_cast<int>(absl::StatusCode::kPermissionDenied) &&
            held_.erase(key) > 0) {
          changed.push_back(key);
        }
        continue;
      }
      absl::StatusOr<SvidMaterial> svid =
          FromResult(entry, result, *keys[i - begin]);
      if (!svid.ok()) {
        retry_at_[key] = clock_.Now() + kRetryRefused;
        LogError("svid_rejected",
                 {{"spiffe_id", entry.id.ToString()},
                  {"error", std::string(svid.status().message())}});
        continue;
      }
      // The entry changed or went while the call ran: not ours to keep.
      if (!entries_.contains(key)) continue;
      ++stats_.signed_total;
      Held held{*std::move(svid), entry.entry_id,
                RenewAtLocked(issued,
                              absl::FromUnixSeconds(result.not_after_unix()))};
      if (cache_ != nullptr) {
        cachepb::CachedSvid saved;
        saved.set_entry_key(key);
        saved.set_entry_id(entry.entry_id);
        saved.set_leaf_der(held.svid.leaf_der);
        saved.set_chain_der(*held.svid.chain_der);
        saved.set_key_der(held.svid.key_der);
        saved.set_not_after_unix(result.not_after_unix());
        if (absl::Status s = cache_->SaveSvid(saved); !s.ok()) {
          LogWarn("svid_cache_write_failed",
                  {{"error", std::string(s.message())}});
        }
      }
      held_[key] = std::move(held);
      retry_at_.erase(key);
      changed.push_back(key);
    }
  }
  return changed;
}

absl::Time RemoteSvidSource::RenewAtLocked(absl::Time issued,
                                           absl::Time not_after) {
  const absl::Duration half = (not_after - issued) * kRenewFraction;
  const double jitter = absl::Uniform(rng_, -kRenewJitter, kRenewJitter);
  return issued + half + half * jitter;
}

void RemoteSvidSource::SetEvicted(const std::string& why) {
  absl::MutexLock lock(&mu_);
  evicted_ = why;
  held_.clear();
  if (cache_ != nullptr) cache_->Clear().IgnoreError();
}

void RemoteSvidSource::SetUnreachableSince(absl::Time since) {
  absl::MutexLock lock(&mu_);
  unreachable_since_ = since;
}

RemoteSvidSource::Stats RemoteSvidSource::GetStats() const {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.held = static_cast<int>(held_.size());
  for (const auto& [key, held] : held_) {
    stats.soonest_not_after =
        std::min(stats.soonest_not_after, held.svid.not_after);
  }
  return stats;
}

}  // namespace mayfly::agent::remote
