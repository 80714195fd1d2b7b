// The in-memory X509SvidSource: see x509_svid_source_fake.h.
#include "identity/workload/x509_svid_source_fake.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/workload/svid_expiry.h"

namespace mayfly::identity::workload {

absl::StatusOr<std::shared_ptr<const X509Svid>>
FakeX509SvidSource::GetX509Svid() const {
  std::shared_ptr<const X509Svid> svid;
  {
    absl::MutexLock lock(&mu_);
    svid = svid_;
  }
  return ServeUnexpired(std::move(svid), clock_.Now(), "");
}

absl::StatusOr<X509Bundle> FakeX509SvidSource::GetX509BundleForTrustDomain(
    const TrustDomain& trust_domain) const {
  absl::MutexLock lock(&mu_);
  auto it = bundles_.find(trust_domain);
  if (it == bundles_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no X.509 bundle for trust domain ", trust_domain.name()));
  }
  return it->second;
}

X509SvidSource::Subscription FakeX509SvidSource::Watch(
    std::function<void()> on_change) {
  return watchers_->Add(std::move(on_change));
}

void FakeX509SvidSource::SetX509Svid(X509Svid svid) {
  auto shared = std::make_shared<const X509Svid>(std::move(svid));
  {
    absl::MutexLock lock(&mu_);
    svid_ = std::move(shared);
  }
  watchers_->Notify();
}

void FakeX509SvidSource::SetX509Bundle(X509Bundle bundle) {
  {
    absl::MutexLock lock(&mu_);
    TrustDomain trust_domain = bundle.trust_domain();
    bundles_.insert_or_assign(std::move(trust_domain), std::move(bundle));
  }
  watchers_->Notify();
}

void FakeX509SvidSource::RemoveX509Bundle(const TrustDomain& trust_domain) {
  {
    absl::MutexLock lock(&mu_);
    bundles_.erase(trust_domain);
  }
  watchers_->Notify();
}

}  // namespace mayfly::identity::workload
