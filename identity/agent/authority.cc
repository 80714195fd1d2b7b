// The agent's intermediate and the trust bundle: see authority.h.
#include "identity/agent/authority.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// X.509 times have whole seconds (RFC 5280, 4.1.2.5).
constexpr absl::Duration kCertTimeResolution = absl::Seconds(1);

}  // namespace

absl::StatusOr<std::unique_ptr<DiskUpstreamAuthority>>
DiskUpstreamAuthority::Open(const std::string& dir,
                            const identity::TrustDomain& trust_domain,
                            const identity::Clock& clock) {
  auto ca = identity::CertificateAuthority::Load(dir, clock);
  if (!ca.ok() && ca.status().code() == absl::StatusCode::kNotFound) {
    identity::CertificateAuthority::Options options{trust_domain};
    ca = identity::CertificateAuthority::Create(dir, options, clock);
  }
  if (!ca.ok()) return ca.status();
  if ((*ca)->trust_domain() != trust_domain) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " holds the CA of trust domain \"", (*ca)->trust_domain().name(),
        "\", not \"", trust_domain.name(), "\""));
  }
  return std::unique_ptr<DiskUpstreamAuthority>(
      new DiskUpstreamAuthority(dir, clock));
}

absl::StatusOr<identity::Signer> DiskUpstreamAuthority::MintIntermediate(
    absl::Duration ttl) {
  ASSIGN_OR_RETURN(auto ca, identity::CertificateAuthority::Load(dir_, clock_));
  return ca->IssueIntermediate(ttl);
}

absl::StatusOr<identity::X509Bundle> DiskUpstreamAuthority::Bundle() {
  ASSIGN_OR_RETURN(auto ca, identity::CertificateAuthority::Load(dir_, clock_));
  return ca->bundle();
}

absl::StatusOr<identity::JwtSigningKey> DiskUpstreamAuthority::JwtKey() {
  ASSIGN_OR_RETURN(auto ca, identity::CertificateAuthority::Load(dir_, clock_));
  return ca->LoadOrCreateJwtKey();
}

absl::StatusOr<std::unique_ptr<Authority>> Authority::Create(
    std::unique_ptr<UpstreamAuthority> upstream,
    absl::Duration intermediate_ttl, const identity::Clock& clock) {
  // Read before minting: the intermediate's NotAfter is its minting time
  // plus intermediate_ttl, and minting may take seconds on a busy machine.
  const absl::Time now = clock.Now();
  std::unique_ptr<Authority> authority(
      new Authority(std::move(upstream), intermediate_ttl, clock));
  absl::MutexLock lock(&authority->mu_);
  RETURN_IF_ERROR(
      authority->RebuildLocked(/*renew_intermediate=*/true).status());
  // An intermediate is cut short at its root's expiry, so a shorter one
  // here means the root expires within intermediate_ttl. Refuse at start:
  // the operator rotates the root now, rather than learning of it when
  // every SVID stops verifying. (Renewals later are cut short the same way.)
  const absl::Time not_after = authority->current_->signer->NotAfter();
  if (not_after + kCertTimeResolution < now + intermediate_ttl) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the root CA expires at ",
        absl::FormatTime(absl::RFC3339_sec, not_after, absl::UTCTimeZone()),
        " (in ",
        absl::FormatDuration(absl::Trunc(not_after - now, absl::Seconds(1))),
        "), sooner than intermediate_ttl (",
        absl::FormatDuration(intermediate_ttl),
        "): rotate the root (mayfly ca rotate) or lower intermediate_ttl"));
  }
  return authority;
}

std::shared_ptr<const SigningState> Authority::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const SigningState>> Authority::Refresh() {
  absl::MutexLock lock(&mu_);
  return RebuildLocked(clock_.Now() >= renew_at_);
}

absl::StatusOr<std::shared_ptr<const SigningState>>
Authority::RenewIntermediate() {
  absl::MutexLock lock(&mu_);
  return RebuildLocked(true);
}

absl::StatusOr<std::shared_ptr<const SigningState>> Authority::RebuildLocked(
    bool renew_intermediate) {
  ASSIGN_OR_RETURN(identity::X509Bundle bundle, upstream_->Bundle());
  std::string bundle_der = bundle.ToDer();
  const bool bundle_changed =
      current_ == nullptr || current_->bundle_der != bundle_der;
  // An intermediate whose root left the bundle is useless: renew it too.
  bool signer_orphaned = false;
  if (current_ != nullptr && bundle_changed) {
    const identity::CertChain& chain = current_->signer->intermediates;
    X509* top =
        chain.empty() ? current_->signer->cert.get() : chain.back().get();
    signer_orphaned = true;
    for (const auto& root : bundle.roots()) {
      if (X509_check_issued(root.get(), top) == X509_V_OK) {
        signer_orphaned = false;
      }
    }
  }
  if (!renew_intermediate && !bundle_changed) return nullptr;

  std::shared_ptr<const identity::Signer> signer;
  std::string chain_der;
  if (renew_intermediate || signer_orphaned || current_ == nullptr) {
    ASSIGN_OR_RETURN(identity::Signer minted,
                     upstream_->MintIntermediate(intermediate_ttl_));
    const absl::Time now = clock_.Now();
    renew_at_ = now + (minted.NotAfter() - now) * kIntermediateRenewFraction;
    chain_der = identity::CertsToDer(minted.ChainBelowRoot());
    signer = std::make_shared<const identity::Signer>(std::move(minted));
  } else {
    signer = current_->signer;
    chain_der = current_->chain_der;
  }
  const uint64_t generation =
      current_ == nullptr
          ? 1
          : current_->bundle_generation + (bundle_changed ? 1 : 0);
  std::shared_ptr<const identity::JwtSigningKey> jwt_key;
  std::shared_ptr<const identity::JwtBundle> jwt_bundle;
  std::string jwks;
  if (current_ != nullptr) {
    jwt_key = current_->jwt_key;
    jwt_bundle = current_->jwt_bundle;
    jwks = current_->jwt_bundle_jwks;
  } else {
    ASSIGN_OR_RETURN(identity::JwtSigningKey key, upstream_->JwtKey());
    auto b = std::make_shared<identity::JwtBundle>(bundle.trust_domain());
    b->AddKey(key.key_id, *key.key);
    ASSIGN_OR_RETURN(jwks, b->ToJwks());
    jwt_key = std::make_shared<const identity::JwtSigningKey>(std::move(key));
    jwt_bundle = std::move(b);
  }
  auto next = std::make_shared<const SigningState>(
      SigningState{std::move(signer), std::move(chain_der), std::move(bundle),
                   std::move(bundle_der), generation, std::move(jwt_key),
                   std::move(jwt_bundle), std::move(jwks)});
  current_ = next;
  return std::shared_ptr<const SigningState>(next);
}

}  // namespace mayfly::agent
