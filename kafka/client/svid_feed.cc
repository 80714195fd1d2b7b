// The SVID generations of one KafkaIdentity: see svid_feed.h.
#include "kafka/client/svid_feed.h"

#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mayfly::kafka {
namespace {

bool SameLeaf(const identity::X509Svid& a, const identity::X509Svid& b) {
  return !a.chain.empty() && !b.chain.empty() &&
         X509_cmp(a.chain.front().get(), b.chain.front().get()) == 0;
}

}  // namespace

SvidFeed::SvidFeed(std::shared_ptr<identity::workload::X509SvidSource> source,
                   const identity::Clock& clock)
    : source_(std::move(source)), clock_(clock) {
  subscription_ = source_->Watch([this] { OnChange(); });
}

SvidFeed::~SvidFeed() { subscription_.Cancel(); }

absl::StatusOr<SvidGeneration> SvidFeed::Newest() {
  absl::StatusOr<std::shared_ptr<const identity::X509Svid>> svid =
      source_->GetX509Svid();
  if (!svid.ok()) {
    return absl::UnavailableError(
        absl::StrCat("no X.509-SVID to present: ", svid.status().message()));
  }
  absl::MutexLock lock(&mu_);
  if (*svid == svid_) return generation_;
  // The Workload API sends every SVID and bundle of the process in each
  // update, and a source may hand out a new snapshot of an unchanged SVID
  // (another of the process's SVIDs rotated, or a bundle did): that is no
  // new generation, or every connection would move at every update.
  if (svid_ != nullptr && SameLeaf(**svid, *svid_)) {
    svid_ = *std::move(svid);
    return generation_;
  }
  // A new snapshot: stamp its receipt now (OnChange asks at once, so this
  // is when the source published it, give or take a callback).
  absl::StatusOr<std::shared_ptr<const TlsClientContext>> context =
      TlsClientContext::Create(*svid);
  if (!context.ok()) return context.status();
  SvidGeneration next;
  next.life.generation = generation_.life.generation + 1;
  next.life.not_before = (*svid)->not_before;
  next.life.not_after = (*svid)->not_after;
  next.life.received = clock_.Now();
  next.context = *std::move(context);
  svid_ = *std::move(svid);
  generation_ = std::move(next);
  return generation_;
}

absl::StatusOr<SvidGeneration> SvidFeed::NewestUsable(absl::Duration margin) {
  absl::StatusOr<SvidGeneration> newest = Newest();
  if (newest.ok() && clock_.Now() >= newest->life.not_after - margin) {
    return absl::UnavailableError(
        absl::StrCat("no X.509-SVID to present: the newest, for ",
                     newest->context->svid()->id.ToString(), ", expires at ",
                     absl::FormatTime(absl::RFC3339_sec, newest->life.not_after,
                                      absl::UTCTimeZone()),
                     ", too soon for a new connection"));
  }
  return newest;
}

uint64_t SvidFeed::Subscribe(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  const uint64_t key = next_key_++;
  wakes_.emplace(key, std::move(wake));
  return key;
}

void SvidFeed::Unsubscribe(uint64_t key) {
  absl::MutexLock wake_lock(&wake_mu_);
  absl::MutexLock lock(&mu_);
  wakes_.erase(key);
}

void SvidFeed::OnChange() {
  // Stamp the new SVID's receipt before anyone is woken to plan with it.
  (void)Newest();
  absl::MutexLock wake_lock(&wake_mu_);
  std::vector<std::function<void()>> wakes;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, wake] : wakes_) wakes.push_back(wake);
  }
  for (const auto& wake : wakes) wake();
}

}  // namespace mayfly::kafka
