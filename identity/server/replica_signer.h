// ReplicaSigner: this server replica's signing key and what it publishes.
//
// Each replica signs with an intermediate of its own. Two ways to get one:
//   ca_dir             the root lives on this server's disk (identity/ca.h;
//                      the embedded single-server default, created on first
//                      start). The replica mints its own intermediate from
//                      it and renews it at half-life.
//   intermediate_cert  the root stays off the server: an admin signed this
//   intermediate_key   replica's intermediate (`mayfly ca`, or an external
//   bundle             CA did). The cert file holds the intermediate, then
//                      any certificates up to the root (excluded); `bundle`
//                      holds the roots. Files are re-read on Refresh, so a
//                      re-signed intermediate is picked up without a
//                      restart; the server cannot renew it itself.
//   upstream           an UpstreamAuthority (step-ca, identity/server/
//                      upstream/) certifies the replica's own key: the
//                      replica makes a key pair, sends a CSR, checks the
//                      chain (CheckUpstreamChain) and keeps key (0600),
//                      chain and the upstream's roots in STATE_DIR/upstream/.
//                      It renews at kIntermediateRenewFraction of the
//                      intermediate's life; a restart reuses the files while
//                      they are not due.
// The JWT-SVID signing key: ca_dir/jwt_key.pem in ca_dir mode (the trust
// domain's key, shared by replicas sharing the directory), else
// STATE_DIR/jwt_key.pem (one per replica, created on first start, 0600).
// Every replica publishes its roots and JWT key into the store's bundle.
//
// Thread-safe: Current() hands out immutable snapshots.
#ifndef MAYFLY_IDENTITY_SERVER_REPLICA_SIGNER_H_
#define MAYFLY_IDENTITY_SERVER_REPLICA_SIGNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/jwt.h"
#include "identity/server/upstream/stepca.h"
#include "identity/server/upstream/upstream_authority.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"

namespace mayfly::server {

// An intermediate must outlive every SVID it signs (kMaxSvidTtl, a day) by
// a wide margin, as the agent's kIntermediateToSvidTtlRatio (4) says.
inline constexpr absl::Duration kDefaultIntermediateTtl = absl::Hours(96);
// Renewal at half-life leaves the other half for the SVIDs it signed.
inline constexpr double kIntermediateRenewFraction = 0.5;
inline constexpr char kServerJwtKeyFile[] = "jwt_key.pem";
// Upstream mode: STATE_DIR/upstream/ holds these.
inline constexpr char kUpstreamDir[] = "upstream";
inline constexpr char kUpstreamKeyFile[] = "intermediate_key.pem";
inline constexpr char kUpstreamCertFile[] = "intermediate.pem";
inline constexpr char kUpstreamBundleFile[] = "bundle.pem";
// Upstream mode: step-ca's JWK provisioner allows 24 h by default
// (maxTLSCertDuration); renewed at half-life, that leaves 12 h for SVIDs
// and for riding out an upstream outage.
inline constexpr absl::Duration kDefaultUpstreamIntermediateTtl =
    absl::Hours(24);

struct SigningConfig {
  std::string ca_dir;
  std::string intermediate_cert;
  std::string intermediate_key;
  std::string bundle;
  absl::Duration intermediate_ttl = kDefaultIntermediateTtl;
  // Upstream mode when step_ca.url is set (the server builds the client).
  upstream::StepCaConfig step_ca;
  absl::Duration upstream_ttl = kDefaultUpstreamIntermediateTtl;
};

// One immutable generation of signing material.
struct SigningMaterial {
  identity::Signer signer;
  identity::X509Bundle roots;
  identity::JwtSigningKey jwt_key;
  // DER of what follows a leaf: the signer, then its intermediates.
  std::vector<std::string> chain_below_root_der;
  // The root the chain leads to, DER.
  std::string root_der;
};

// A leaf signed for a key someone else holds.
struct SignedLeaf {
  // Leaf first, then the chain below the root.
  std::vector<std::string> chain_der;
  absl::Time not_after;
  std::string serial_hex;
};

// This server's own TLS identity.
struct ServerTlsIdentity {
  // Leaf, chain below the root, then the root: an agent that pins only the
  // root's SHA-256 can check it.
  std::string chain_pem;
  std::string key_pem;
  absl::Time not_after;
};

class ReplicaSigner {
 public:
  // `state_dir` holds this replica's JWT key in intermediate and upstream
  // mode. With `upstream` the replica is in upstream mode (ca_dir and the
  // intermediate files of `config` are ignored); its errors at start are
  // the server's.
  static absl::StatusOr<std::unique_ptr<ReplicaSigner>> Create(
      const identity::TrustDomain& td, const SigningConfig& config,
      const std::string& state_dir, const identity::Clock& clock,
      std::unique_ptr<upstream::UpstreamAuthority> upstream = nullptr);

  std::shared_ptr<const SigningMaterial> Current() const
      ABSL_LOCKS_EXCLUDED(mu_);

  // ca_dir and upstream: renews the intermediate once half its life is
  // gone (upstream: the HTTPS exchange runs without the lock, so signing
  // goes on meanwhile). Otherwise re-reads the files. True if the material
  // changed; on error the current material stays in force.
  absl::StatusOr<bool> Refresh() ABSL_LOCKS_EXCLUDED(mu_);
  // Intermediate mode: reads the files into new material without putting
  // it in force, so the caller can hold back a chain under a root the
  // agents have not been sent yet; Install puts it in force.
  absl::StatusOr<std::shared_ptr<const SigningMaterial>> Load() const
      ABSL_LOCKS_EXCLUDED(mu_);
  void Install(std::shared_ptr<const SigningMaterial> next)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Builds new material now, due or not (ca_dir: a new intermediate under
  // the directory's root as it is now, e.g. just after a root rotation's
  // Promote). On error the current material stays in force.
  absl::Status Renew() ABSL_LOCKS_EXCLUDED(mu_);

  // A leaf as `request` says for `public_key`, capped by the intermediate.
  absl::StatusOr<SignedLeaf> SignLeaf(const identity::X509SvidRequest& request,
                                      const EVP_PKEY& public_key) const;

  // Mints spiffe://TD/mayfly/server with a fresh key.
  absl::StatusOr<ServerTlsIdentity> MintServerIdentity(
      absl::Duration ttl) const;

 private:
  ReplicaSigner(identity::TrustDomain td, SigningConfig config,
                std::string state_dir, const identity::Clock& clock,
                std::unique_ptr<upstream::UpstreamAuthority> upstream)
      : td_(std::move(td)),
        config_(std::move(config)),
        state_dir_(std::move(state_dir)),
        clock_(clock),
        upstream_(std::move(upstream)) {}

  bool RenewsItself() const {
    return !config_.ca_dir.empty() || upstream_ != nullptr;
  }
  // New material: ca_dir mints, upstream asks the upstream (and writes
  // the files), intermediate mode reads the files.
  absl::StatusOr<std::shared_ptr<const SigningMaterial>> Build() const;
  // Upstream mode: the material in STATE_DIR/upstream/ if it is there.
  absl::StatusOr<std::shared_ptr<const SigningMaterial>> LoadFiles(
      const std::string& cert_file, const std::string& key_file,
      const std::string& bundle_file) const;
  absl::Status RequestFromUpstream() const;
  std::string UpstreamPath(absl::string_view file) const;
  void InstallLocked(std::shared_ptr<const SigningMaterial> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const identity::TrustDomain td_;
  const SigningConfig config_;
  const std::string state_dir_;
  const identity::Clock& clock_;
  // Null outside upstream mode. Called by one Build at a time: Build runs
  // from Create, Renew and Refresh, which the server serialises.
  const std::unique_ptr<upstream::UpstreamAuthority> upstream_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const SigningMaterial> current_ ABSL_GUARDED_BY(mu_);
  absl::Time renew_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_REPLICA_SIGNER_H_
