// X509SvidSource: "my current X.509-SVID and the bundles to check peers
// with, and tell me when they change", with no gRPC in sight.
//
// The seam the Kafka client and the bridge stand on, modelled on go-spiffe's
// x509svid.Source and x509bundle.Source (plus the change notification that
// go-spiffe's workloadapi.X509Source offers as Updated()). Implementations:
//   X509Source (x509_source.h)             the Workload API, kept fresh
//   FakeX509SvidSource (x509_svid_source_fake.h)  in memory, for tests
//
// Contract for every implementation:
// - Getters never block on I/O and are thread-safe. GetX509Svid returns a
//   shared, immutable snapshot: it stays valid (and unchanged) for as long
//   as the caller holds it, even after the source rotates or is destroyed.
// - An SVID is served only while it is valid by the source's Clock: once
//   Now() reaches its NotAfter, GetX509Svid returns Unavailable naming the
//   expiry, until a fresh one arrives. Expiry is checked on read; it is not
//   a change and notifies no watcher.
// - Watch(callback) calls `callback` after every change of the SVID or the
//   bundles, never with a lock of the source held, so the callback may call
//   any method of the source, subscribe, or cancel any subscription
//   (including its own). It is not called for the state at subscription
//   time: subscribe first, then read, and no change is missed.
// - The Subscription owns the registration. Cancel() or destruction
//   unregisters; once it returns the callback is not running (unless Cancel
//   is called from inside that very callback) and will not be called again.
//   A Subscription may outlive its source; cancelling it then does nothing.
//   The source must not be destroyed from inside one of its callbacks.
#ifndef MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_H_
#define MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "identity/bundle.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"

namespace mayfly::identity::workload {

class X509SvidSource {
 public:
  // A move-only handle on one Watch registration; see the contract above.
  class Subscription {
   public:
    Subscription() = default;
    // `cancel` unregisters the callback; it is called at most once.
    explicit Subscription(std::function<void()> cancel)
        : cancel_(std::move(cancel)) {}
    Subscription(Subscription&& other) noexcept
        : cancel_(std::exchange(other.cancel_, nullptr)) {}
    Subscription& operator=(Subscription&& other) noexcept {
      if (this != &other) {
        Cancel();
        cancel_ = std::exchange(other.cancel_, nullptr);
      }
      return *this;
    }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() { Cancel(); }

    void Cancel() {
      if (auto cancel = std::exchange(cancel_, nullptr)) cancel();
    }

   private:
    std::function<void()> cancel_;
  };

  virtual ~X509SvidSource() = default;

  // The default (first) X.509-SVID. Unavailable before the first one, and
  // once it has expired with no successor.
  virtual absl::StatusOr<std::shared_ptr<const X509Svid>> GetX509Svid()
      const = 0;

  // The X.509 bundle of `trust_domain` (the SVID's own or a federated one).
  // NotFound when the source holds none for it; Unavailable before the first
  // update.
  virtual absl::StatusOr<X509Bundle> GetX509BundleForTrustDomain(
      const TrustDomain& trust_domain) const = 0;

  // Registers `on_change`; see the contract above.
  [[nodiscard]] virtual Subscription Watch(std::function<void()> on_change) = 0;
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_X509_SVID_SOURCE_H_
