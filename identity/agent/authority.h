// Where the agent's signing key comes from.
//
// The agent never signs leaves with the trust domain's root. An
// UpstreamAuthority holds the root (on disk by default; a remote CA or a
// shared store later) and signs a short-lived intermediate for the agent;
// the Authority keeps that intermediate fresh and publishes the current
// SigningState.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_AUTHORITY_H_
#define MAYFLY_IDENTITY_AGENT_AUTHORITY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/agent/signing_state.h"
#include "identity/bundle.h"
#include "identity/ca.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {

class UpstreamAuthority {
 public:
  virtual ~UpstreamAuthority() = default;
  // A fresh intermediate CA for the agent, valid for at most `ttl`.
  virtual absl::StatusOr<identity::Signer> MintIntermediate(
      absl::Duration ttl) = 0;
  // The roots workloads must trust now. May change at any time (a root
  // rotation); the Authority polls it.
  virtual absl::StatusOr<identity::X509Bundle> Bundle() = 0;
  // The trust domain's JWT-SVID signing key.
  virtual absl::StatusOr<identity::JwtSigningKey> JwtKey() = 0;
};

// The root in a CA directory (identity/ca.h), created on first use. Each
// call reloads the directory, so a root rotation done on disk is seen
// without a restart.
class DiskUpstreamAuthority : public UpstreamAuthority {
 public:
  // Loads the CA in `dir`, or creates one for `trust_domain` if `dir` holds
  // none. FailedPrecondition if it holds another trust domain's CA.
  static absl::StatusOr<std::unique_ptr<DiskUpstreamAuthority>> Open(
      const std::string& dir, const identity::TrustDomain& trust_domain,
      const identity::Clock& clock);

  absl::StatusOr<identity::Signer> MintIntermediate(
      absl::Duration ttl) override;
  absl::StatusOr<identity::X509Bundle> Bundle() override;
  absl::StatusOr<identity::JwtSigningKey> JwtKey() override;

 private:
  DiskUpstreamAuthority(std::string dir, const identity::Clock& clock)
      : dir_(std::move(dir)), clock_(clock) {}

  const std::string dir_;
  const identity::Clock& clock_;
};

class Authority {
 public:
  // The intermediate renews at this fraction of its life, leaving the other
  // half for the SVIDs it signed to expire before it does.
  static constexpr double kIntermediateRenewFraction = 0.5;

  // Mints the first intermediate. `intermediate_ttl` must exceed every SVID
  // TTL (leaves are capped by their issuer's NotAfter).
  // FailedPrecondition if the root expires within `intermediate_ttl`.
  static absl::StatusOr<std::unique_ptr<Authority>> Create(
      std::unique_ptr<UpstreamAuthority> upstream,
      absl::Duration intermediate_ttl, const identity::Clock& clock);

  std::shared_ptr<const SigningState> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Renews the intermediate if due and re-reads the bundle. Returns the new
  // state if anything changed, null otherwise; on error the current state
  // stays in force.
  absl::StatusOr<std::shared_ptr<const SigningState>> Refresh()
      ABSL_LOCKS_EXCLUDED(mu_);

  // Renews the intermediate now, e.g. after a root switch.
  absl::StatusOr<std::shared_ptr<const SigningState>> RenewIntermediate()
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Authority(std::unique_ptr<UpstreamAuthority> upstream,
            absl::Duration intermediate_ttl, const identity::Clock& clock)
      : upstream_(std::move(upstream)),
        intermediate_ttl_(intermediate_ttl),
        clock_(clock) {}

  absl::StatusOr<std::shared_ptr<const SigningState>> RebuildLocked(
      bool renew_intermediate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<UpstreamAuthority> upstream_;
  const absl::Duration intermediate_ttl_;
  const identity::Clock& clock_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const SigningState> current_ ABSL_GUARDED_BY(mu_);
  absl::Time renew_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_AUTHORITY_H_
