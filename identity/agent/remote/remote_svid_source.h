// The SVIDs of a server-mode agent: signed by mayfly-server, fetched ahead
// of use, renewed in batches, kept on disk.
//
// The registry asks Get under its lock, so Get answers from memory only:
// the SVID fetched when the entry arrived, Unavailable while none is held
// (or the one held expired), PermissionDenied once the agent was evicted.
// Fetching happens in Update (entries arrived on Sync) and RenewDue (the
// agent's loop); both return the keys whose SVID changed, for
// Registry::SvidsChanged.
//
// Each SVID renews at half its lifetime, give or take 10%; RenewDue signs
// everything due within kRenewAhead in one batch, so entries that came
// together renew together in one call, not one call each.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_REMOTE_SVID_SOURCE_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_REMOTE_SVID_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/remote/state_cache.h"
#include "identity/agent/svid_source.h"
#include "identity/clock.h"
#include "identity/server/proto/server.pb.h"

namespace mayfly::agent::remote {

// CSRs per SignX509 call: a few hundred keeps one response well under
// gRPC's 4 MiB and one call's signing under a second on the server.
inline constexpr int kMaxCsrsPerCall = 256;
// RenewDue also renews what falls due this soon after, so that renewals a
// few seconds apart share one call.
inline constexpr absl::Duration kRenewAhead = absl::Seconds(5);
// An entry the server refused, or whose certificate was unusable, is asked
// for again after this (or on the next SyncResponse), not on every turn.
inline constexpr absl::Duration kRetryRefused = absl::Seconds(10);

class RemoteSvidSource : public SvidSource {
 public:
  using SignBatch = std::function<absl::StatusOr<server::v1::SignX509Response>(
      const server::v1::SignX509Request&)>;

  // `cache` may be null (nothing kept on disk); it must outlive the source.
  RemoteSvidSource(SignBatch sign, const StateCache* cache,
                   const identity::Clock& clock);

  absl::StatusOr<SvidMaterial> Get(const RegistrationEntry& entry,
                                   absl::Duration ttl,
                                   const SigningState& signing) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Takes the SVIDs cached on disk that belong to `entries` and are still
  // valid (a restart).
  void LoadFromDisk(const std::vector<RegistrationEntry>& entries)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The entries are now `entries`: drops the SVIDs of entries gone and
  // fetches one for each entry without one. Returns the keys whose SVID
  // changed; PermissionDenied if the server refused the agent itself.
  absl::StatusOr<std::vector<std::string>> Update(
      const std::vector<RegistrationEntry>& entries) ABSL_LOCKS_EXCLUDED(mu_);

  // Renews what is due (and fetches what is missing). Same result as Update.
  absl::StatusOr<std::vector<std::string>> RenewDue() ABSL_LOCKS_EXCLUDED(mu_);

  // When RenewDue has work next (InfiniteFuture if none).
  absl::Time NextRenewal() const ABSL_LOCKS_EXCLUDED(mu_);

  // The server refused this agent: Get answers PermissionDenied with `why`
  // from now on, and every SVID is forgotten (memory and disk).
  void SetEvicted(const std::string& why) ABSL_LOCKS_EXCLUDED(mu_);
  // For Get's messages while SVIDs are missing: since when no server
  // answered (InfiniteFuture: reachable).
  void SetUnreachableSince(absl::Time since) ABSL_LOCKS_EXCLUDED(mu_);

  struct Stats {
    int held = 0;
    int64_t signed_total = 0;
    int64_t sign_calls = 0;
    int64_t refused = 0;
    // When a SignX509 call last succeeded (InfinitePast: never).
    absl::Time last_signed = absl::InfinitePast();
    // The soonest NotAfter of the SVIDs held (InfiniteFuture: none).
    absl::Time soonest_not_after = absl::InfiniteFuture();
  };
  Stats GetStats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Held {
    SvidMaterial svid;
    std::string entry_id;
    absl::Time renew_at;
  };

  // Signs CSRs for `todo` (in batches) and stores what comes back.
  absl::StatusOr<std::vector<std::string>> Fetch(
      const std::vector<RegistrationEntry>& todo) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time RenewAtLocked(absl::Time issued, absl::Time not_after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SignBatch sign_;
  const StateCache* const cache_;
  const identity::Clock& clock_;

  // Serialises Update and RenewDue, so an entry is never signed twice at
  // once. Held across network calls; never while mu_ is.
  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // By RegistrationEntry::Key().
  absl::flat_hash_map<std::string, RegistrationEntry> entries_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Held> held_ ABSL_GUARDED_BY(mu_);
  // Keys refused by the server, and when to ask again.
  absl::flat_hash_map<std::string, absl::Time> retry_at_ ABSL_GUARDED_BY(mu_);
  std::string evicted_ ABSL_GUARDED_BY(mu_);
  absl::Time unreachable_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_REMOTE_SVID_SOURCE_H_
