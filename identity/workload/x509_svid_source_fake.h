// FakeX509SvidSource: an X509SvidSource held in memory, for tests of code
// that consumes SVIDs (the Kafka client, the bridge) without an agent.
//
// The test sets and rotates the SVID and bundles; each change notifies the
// watchers on the thread that made it, after the fake's lock is released.
// Expiry follows the injected Clock (a FakeClock in tests): advance it past
// the SVID's NotAfter and GetX509Svid reports the expiry, as the Workload
// API source does. Keeps the whole contract of x509_svid_source.h.
//
// Thread-safe. The clock must outlive the fake.
#ifndef MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_FAKE_H_
#define MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_FAKE_H_

#include <functional>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "identity/workload/watcher_set.h"
#include "identity/workload/x509_svid_source.h"

namespace mayfly::identity::workload {

class FakeX509SvidSource : public X509SvidSource {
 public:
  explicit FakeX509SvidSource(const Clock& clock) : clock_(clock) {}

  absl::StatusOr<std::shared_ptr<const X509Svid>> GetX509Svid() const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<X509Bundle> GetX509BundleForTrustDomain(
      const TrustDomain& trust_domain) const override ABSL_LOCKS_EXCLUDED(mu_);
  Subscription Watch(std::function<void()> on_change) override;

  // Replaces the SVID (a rotation) and notifies the watchers.
  void SetX509Svid(X509Svid svid) ABSL_LOCKS_EXCLUDED(mu_);
  // Adds or replaces the bundle of its trust domain and notifies.
  void SetX509Bundle(X509Bundle bundle) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops a trust domain's bundle (federation ended) and notifies.
  void RemoveX509Bundle(const TrustDomain& trust_domain)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Subscriptions not yet cancelled, so a test can check it cleaned up.
  int watchers() const { return watchers_->size(); }

 private:
  const Clock& clock_;
  const std::shared_ptr<WatcherSet> watchers_ = WatcherSet::Create();
  mutable absl::Mutex mu_;
  std::shared_ptr<const X509Svid> svid_ ABSL_GUARDED_BY(mu_);
  std::map<TrustDomain, X509Bundle> bundles_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_FAKE_H_
