// Registration entries, the X.509-SVIDs minted for them, and the streams
// watching them.
//
// An SVID belongs to an entry, not to a caller: every workload that matches
// an entry gets the same SVID, as in SPIRE. Watchers with the same selectors
// form one group that shares one response, so a rotation builds one message
// per group and hands the same bytes to every stream in it.
//
// SVIDs are minted on first demand and renewed at half their lifetime, give
// or take 10% so that entries registered together do not renew together.
// An SVID nobody watches is not renewed: it is dropped at its renewal time
// and minted again on the next fetch. When an entry goes away, its SVID is
// dropped and the groups left with no entry get PermissionDenied.
//
// Thread-safe. Subscribers are called without the registry's lock held.
#ifndef MAYFLY_IDENTITY_AGENT_REGISTRY_H_
#define MAYFLY_IDENTITY_AGENT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/agent/signing_state.h"
#include "identity/agent/svid_source.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"
#include "third_party/spiffe/workloadapi.pb.h"

namespace mayfly::agent {

// SPIRE renews at half the lifetime; so do we.
inline constexpr double kRenewFraction = 0.5;
// Each renewal time moves by up to this fraction of the half-life, so that
// entries minted in the same second spread their renewals out.
inline constexpr double kRenewJitter = 0.1;

// A full response and the generation of the bundle it carries.
struct X509Update {
  std::shared_ptr<const X509SVIDResponse> response;
  uint64_t bundle_generation = 0;
};

// One stream's view of the registry.
class X509Subscriber {
 public:
  virtual ~X509Subscriber() = default;
  // A new full response. May be called from any thread; never twice at once
  // for one subscriber, and in the order the responses were built.
  virtual void Deliver(const X509Update& update) = 0;
  // The workload no longer matches any entry: end the stream with `status`.
  virtual void Revoke(const absl::Status& status) = 0;
  // The bundle generation of the last response the client has received.
  virtual uint64_t DeliveredBundleGeneration() const = 0;
};

class Registry {
 public:
  struct Stats {
    int entries = 0;
    int cached_svids = 0;
    int groups = 0;
    int subscribers = 0;
    int64_t svids_minted = 0;
    absl::Time soonest_expiry = absl::InfiniteFuture();
  };

  // SVIDs minted locally (LocalSvidSource).
  Registry(const identity::Clock& clock, absl::Duration default_ttl);
  // SVIDs from `source`, which must outlive the registry.
  Registry(const identity::Clock& clock, absl::Duration default_ttl,
           SvidSource& source);

  // Replaces the entries. SVIDs of unchanged entries (same Key()) survive;
  // groups whose matches changed get a new response, and groups left with no
  // match are revoked.
  void SetEntries(std::vector<RegistrationEntry> entries)
      ABSL_LOCKS_EXCLUDED(mu_);

  // A new signer or bundle. A new bundle is pushed to every group at once;
  // a new signer only affects SVIDs minted from now on.
  void SetSigningState(std::shared_ptr<const SigningState> state)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The source holds newer SVIDs (or none any more) for the entries with
  // these keys (RegistrationEntry::Key; every entry if `keys` is empty):
  // the registry drops what it holds for them and rebuilds the responses
  // that carry them. Never call it from inside SvidSource::Get.
  void SvidsChanged(const std::vector<std::string>& keys)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The current response for a workload with `selectors` (sorted).
  // PermissionDenied if no entry matches, Unavailable before the first
  // SetSigningState.
  absl::StatusOr<X509Update> Fetch(const std::vector<std::string>& selectors)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Like Fetch, and keeps `subscriber` informed until Unsubscribe. The
  // first response is returned, not delivered.
  absl::StatusOr<X509Update> Subscribe(
      const std::vector<std::string>& selectors,
      std::shared_ptr<X509Subscriber> subscriber) ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(const X509Subscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);

  // The lifetime of `entry`'s SVIDs: its own ttl, else the default TTL.
  absl::Duration EffectiveTtl(const RegistrationEntry& entry) const;

  // The entries a workload with `selectors` matches, in registration order.
  std::vector<RegistrationEntry> Match(
      const std::vector<std::string>& selectors) const ABSL_LOCKS_EXCLUDED(mu_);

  // Renews what is due at clock.Now() and drops what nobody watches.
  // Returns when the next renewal is due (InfiniteFuture if none).
  absl::Time RunDue() ABSL_LOCKS_EXCLUDED(mu_);

  // True once every subscriber has received a response carrying bundle
  // generation `generation` or later.
  bool AllSubscribersHave(uint64_t bundle_generation) const
      ABSL_LOCKS_EXCLUDED(mu_);

  Stats GetStats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct CachedSvid {
    std::string leaf_der;
    std::string key_der;  // PKCS#8
    // What follows the leaf (shared with the SigningState it came from,
    // or with the other SVIDs of the same issuer).
    std::shared_ptr<const std::string> chain_der;
    absl::Time not_after;
    absl::Time renew_at;
  };
  struct EntrySlot {
    RegistrationEntry entry;
    std::shared_ptr<const CachedSvid> svid;  // null until first demand
  };
  struct Group {
    std::vector<std::string> selectors;
    std::vector<size_t> matches;  // indexes into entries_, in order
    X509Update update;
    // The soonest NotAfter among update's SVIDs: past it, the response is
    // no longer served (a source that could not renew lets it expire).
    absl::Time not_after = absl::InfiniteFuture();
    std::vector<std::shared_ptr<X509Subscriber>> subscribers;
  };
  using Delivery = std::pair<std::shared_ptr<X509Subscriber>, X509Update>;
  using Revocation = std::pair<std::shared_ptr<X509Subscriber>, absl::Status>;

  std::vector<size_t> MatchLocked(const std::vector<std::string>& selectors)
      const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EnsureSvidLocked(EntrySlot& slot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The response for `matches`; its soonest NotAfter in `not_after`.
  absl::StatusOr<X509Update> BuildResponseLocked(
      const std::vector<size_t>& matches, absl::Time* not_after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<X509Update> FetchLocked(
      const std::vector<std::string>& selectors, Group** group_out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the responses of the groups that hold a changed entry (every
  // group, with all matches recomputed, when `changed` is null); collects
  // deliveries and revocations.
  void RefreshGroupsLocked(const std::vector<bool>* changed,
                           std::vector<Delivery>& deliveries,
                           std::vector<Revocation>& revoked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time RenewAtLocked(absl::Time minted, absl::Duration ttl)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Notify(const std::vector<Delivery>& deliveries,
                     const std::vector<Revocation>& revoked);

  const identity::Clock& clock_;
  const absl::Duration default_ttl_;
  // Null when `source_` is external.
  const std::unique_ptr<SvidSource> own_source_;
  SvidSource& source_;

  // Held across computing and sending a batch of deliveries, so that
  // subscribers see responses in the order they were built. Before mu_.
  absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const SigningState> signing_ ABSL_GUARDED_BY(mu_);
  std::vector<EntrySlot> entries_ ABSL_GUARDED_BY(mu_);
  // Selector -> indexes of the entries that carry it: matching a workload
  // looks only at entries sharing one of its selectors, not at all of them.
  absl::flat_hash_map<std::string, std::vector<size_t>> by_selector_
      ABSL_GUARDED_BY(mu_);
  // Keyed by the workload's selectors joined with '\n'.
  std::map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const X509Subscriber*, std::string> group_of_
      ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
  int64_t svids_minted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_REGISTRY_H_
