// ReplicaSigner: loading or minting the intermediate, the JWT key, and
// signing leaves and the server's own TLS SVID.
#include "identity/server/replica_signer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "identity/ca.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

absl::StatusOr<identity::JwtSigningKey> LoadOrCreateKeyFile(
    const std::string& path) {
  if (!identity::PathExists(path)) {
    ASSIGN_OR_RETURN(identity::JwtSigningKey key,
                     identity::GenerateJwtSigningKey());
    ASSIGN_OR_RETURN(std::string pem, identity::PrivateKeyToPkcs8Pem(*key.key));
    RETURN_IF_ERROR(
        identity::WriteFileAtomically(path, pem, identity::kPrivateFileMode));
    return key;
  }
  RETURN_IF_ERROR(identity::CheckTrustedFile(path, /*private_file=*/true));
  ASSIGN_OR_RETURN(std::string pem, identity::ReadFile(path));
  absl::StatusOr<identity::UniqueEvpPkey> key =
      identity::PrivateKeyFromPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", key.status().message()));
  }
  return identity::JwtSigningKeyFromKey(*std::move(key));
}

std::string SerialHex(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  identity::UniqueX509 cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr) return "";
  identity::UniqueBignum bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn.get());
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  return out;
}

// What every mode ends with: the signer not expired, the chain's DER, and
// the root it leads to.
absl::StatusOr<std::shared_ptr<const SigningMaterial>> Finish(
    std::shared_ptr<SigningMaterial> m, const identity::Clock& clock) {
  if (m->signer.NotAfter() <= clock.Now()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the signing intermediate expired at ",
                     absl::FormatTime(m->signer.NotAfter())));
  }
  for (const identity::UniqueX509& c : m->signer.ChainBelowRoot()) {
    m->chain_below_root_der.push_back(identity::CertToDer(*c));
  }
  X509* top = m->signer.intermediates.empty()
                  ? m->signer.cert.get()
                  : m->signer.intermediates.back().get();
  for (const identity::UniqueX509& root : m->roots.roots()) {
    if (X509_check_issued(root.get(), top) == X509_V_OK) {
      m->root_der = identity::CertToDer(*root);
    }
  }
  if (m->root_der.empty()) {
    return absl::InvalidArgumentError(
        "no root of the bundle issued the signing intermediate's chain");
  }
  return std::shared_ptr<const SigningMaterial>(std::move(m));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaSigner>> ReplicaSigner::Create(
    const identity::TrustDomain& td, const SigningConfig& config,
    const std::string& state_dir, const identity::Clock& clock,
    std::unique_ptr<upstream::UpstreamAuthority> upstream) {
  std::unique_ptr<ReplicaSigner> signer(
      new ReplicaSigner(td, config, state_dir, clock, std::move(upstream)));
  std::shared_ptr<const SigningMaterial> material;
  // Upstream material reused from disk keeps its own schedule.
  absl::Time reused_renew_at = absl::InfinitePast();
  if (signer->upstream_ != nullptr) {
    RETURN_IF_ERROR(identity::EnsurePrivateDir(signer->UpstreamPath("")));
    // A restart reuses what the upstream signed while it is not due, so a
    // replica restarts even while the upstream is down.
    if (identity::PathExists(signer->UpstreamPath(kUpstreamCertFile))) {
      auto loaded =
          signer->LoadFiles(signer->UpstreamPath(kUpstreamCertFile),
                            signer->UpstreamPath(kUpstreamKeyFile),
                            signer->UpstreamPath(kUpstreamBundleFile));
      if (loaded.ok()) {
        const identity::Signer& s = (*loaded)->signer;
        const absl::Time not_before = identity::CertNotBefore(*s.cert);
        const absl::Time due = not_before + (s.NotAfter() - not_before) *
                                                kIntermediateRenewFraction;
        if (clock.Now() < due) {
          material = *std::move(loaded);
          reused_renew_at = due;
        }
      }
    }
  } else if (!config.ca_dir.empty()) {
    // The embedded default: create the root on first start.
    auto ca = identity::CertificateAuthority::Load(config.ca_dir, clock);
    if (absl::IsNotFound(ca.status())) {
      ca = identity::CertificateAuthority::Create(
          config.ca_dir, identity::CertificateAuthority::Options{td}, clock);
    }
    if (!ca.ok()) return ca.status();
    if ((*ca)->trust_domain() != td) {
      return absl::FailedPreconditionError(absl::StrCat(
          config.ca_dir, " holds the CA of trust domain \"",
          (*ca)->trust_domain().name(), "\", not \"", td.name(), "\""));
    }
  }
  if (material == nullptr) {
    ASSIGN_OR_RETURN(material, signer->Build());
  }
  absl::MutexLock lock(&signer->mu_);
  signer->InstallLocked(std::move(material));
  if (reused_renew_at != absl::InfinitePast()) {
    signer->renew_at_ = reused_renew_at;
  }
  return signer;
}

std::string ReplicaSigner::UpstreamPath(absl::string_view file) const {
  return absl::StrCat(state_dir_, "/", kUpstreamDir, file.empty() ? "" : "/",
                      file);
}

absl::Status ReplicaSigner::RequestFromUpstream() const {
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::GenerateKey(identity::KeyType::kEcP256));
  ASSIGN_OR_RETURN(identity::SpiffeId td_id,
                   identity::SpiffeId::FromString(td_.IdString()));
  ASSIGN_OR_RETURN(std::string csr, identity::MakeSvidCsrDer(*key, td_id, {}));
  ASSIGN_OR_RETURN(upstream::UpstreamChain chain,
                   upstream_->SignIntermediate(csr, config_.upstream_ttl));
  absl::Status fit = upstream::CheckUpstreamChain(chain, *key, clock_);
  if (!fit.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(upstream_->Name(), ": ", fit.message()));
  }
  // The key first: a crash between the writes leaves a cert that does not
  // match it, which the next start refuses and replaces.
  ASSIGN_OR_RETURN(std::string key_pem, identity::PrivateKeyToPkcs8Pem(*key));
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      UpstreamPath(kUpstreamKeyFile), key_pem, identity::kPrivateFileMode));
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      UpstreamPath(kUpstreamBundleFile), identity::CertsToPem(chain.roots),
      identity::kPublicFileMode));
  return identity::WriteFileAtomically(UpstreamPath(kUpstreamCertFile),
                                       identity::CertsToPem(chain.chain),
                                       identity::kPublicFileMode);
}

absl::StatusOr<std::shared_ptr<const SigningMaterial>> ReplicaSigner::Build()
    const {
  if (upstream_ != nullptr) {
    RETURN_IF_ERROR(RequestFromUpstream());
    return LoadFiles(UpstreamPath(kUpstreamCertFile),
                     UpstreamPath(kUpstreamKeyFile),
                     UpstreamPath(kUpstreamBundleFile));
  }
  if (config_.ca_dir.empty()) {
    return LoadFiles(config_.intermediate_cert, config_.intermediate_key,
                     config_.bundle);
  }
  auto m = std::make_shared<SigningMaterial>(
      SigningMaterial{{}, identity::X509Bundle(td_), {}, {}, {}});
  ASSIGN_OR_RETURN(
      auto ca, identity::CertificateAuthority::Load(config_.ca_dir, clock_));
  ASSIGN_OR_RETURN(m->signer, ca->IssueIntermediate(config_.intermediate_ttl));
  m->roots = ca->bundle();
  ASSIGN_OR_RETURN(m->jwt_key, ca->LoadOrCreateJwtKey());
  return Finish(std::move(m), clock_);
}

absl::StatusOr<std::shared_ptr<const SigningMaterial>> ReplicaSigner::LoadFiles(
    const std::string& cert_file, const std::string& key_file,
    const std::string& bundle_file) const {
  auto m = std::make_shared<SigningMaterial>(
      SigningMaterial{{}, identity::X509Bundle(td_), {}, {}, {}});
  ASSIGN_OR_RETURN(std::string cert_pem, identity::ReadFile(cert_file));
  ASSIGN_OR_RETURN(identity::CertChain chain, identity::CertsFromPem(cert_pem));
  if (chain.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_file, ": no certificate"));
  }
  RETURN_IF_ERROR(identity::CheckTrustedFile(key_file,
                                             /*private_file=*/true));
  ASSIGN_OR_RETURN(std::string key_pem, identity::ReadFile(key_file));
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::PrivateKeyFromPem(key_pem));
  if (!identity::KeyMatchesCert(*key, *chain[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_file, " is not the key of ", cert_file));
  }
  if (X509_check_ca(chain[0].get()) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_file, " is not a CA certificate"));
  }
  ASSIGN_OR_RETURN(std::string bundle_pem, identity::ReadFile(bundle_file));
  ASSIGN_OR_RETURN(m->roots, identity::X509Bundle::FromPem(td_, bundle_pem));
  m->signer.cert = std::move(chain[0]);
  m->signer.key = std::move(key);
  for (size_t i = 1; i < chain.size(); ++i) {
    m->signer.intermediates.push_back(std::move(chain[i]));
  }
  ASSIGN_OR_RETURN(m->jwt_key, LoadOrCreateKeyFile(absl::StrCat(
                                   state_dir_, "/", kServerJwtKeyFile)));
  return Finish(std::move(m), clock_);
}

std::shared_ptr<const SigningMaterial> ReplicaSigner::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<bool> ReplicaSigner::Refresh() {
  {
    absl::MutexLock lock(&mu_);
    if (RenewsItself() && clock_.Now() < renew_at_) return false;
  }
  // Built without the lock: an upstream's HTTPS exchange can take seconds,
  // and SignLeaf reads Current() meanwhile.
  ASSIGN_OR_RETURN(std::shared_ptr<const SigningMaterial> next, Build());
  absl::MutexLock lock(&mu_);
  if (!RenewsItself() &&
      X509_cmp(next->signer.cert.get(), current_->signer.cert.get()) == 0 &&
      next->roots.ToDer() == current_->roots.ToDer()) {
    return false;
  }
  InstallLocked(std::move(next));
  return true;
}

absl::StatusOr<std::shared_ptr<const SigningMaterial>> ReplicaSigner::Load()
    const {
  absl::MutexLock lock(&mu_);
  return Build();
}

void ReplicaSigner::Install(std::shared_ptr<const SigningMaterial> next) {
  absl::MutexLock lock(&mu_);
  InstallLocked(std::move(next));
}

absl::Status ReplicaSigner::Renew() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const SigningMaterial> next, Build());
  InstallLocked(std::move(next));
  return absl::OkStatus();
}

void ReplicaSigner::InstallLocked(std::shared_ptr<const SigningMaterial> next) {
  const absl::Time now = clock_.Now();
  renew_at_ =
      now + (next->signer.NotAfter() - now) * kIntermediateRenewFraction;
  current_ = std::move(next);
}

absl::StatusOr<SignedLeaf> ReplicaSigner::SignLeaf(
    const identity::X509SvidRequest& request,
    const EVP_PKEY& public_key) const {
  std::shared_ptr<const SigningMaterial> m = Current();
  ASSIGN_OR_RETURN(
      identity::X509SvidDer leaf,
      identity::MintX509SvidDerForKey(request, public_key, m->signer, clock_));
  SignedLeaf out;
  out.serial_hex = SerialHex(leaf.leaf_der);
  out.chain_der.push_back(std::move(leaf.leaf_der));
  out.chain_der.insert(out.chain_der.end(), m->chain_below_root_der.begin(),
                       m->chain_below_root_der.end());
  out.not_after = leaf.not_after;
  return out;
}

absl::StatusOr<ServerTlsIdentity> ReplicaSigner::MintServerIdentity(
    absl::Duration ttl) const {
  std::shared_ptr<const SigningMaterial> m = Current();
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(
                       absl::StrCat(td_.IdString(), "/mayfly/server")));
  identity::X509SvidRequest request{id, ttl};
  // gRPC clients check a host name unless told not to; agents that verify
  // the SPIFFE ID instead ignore it.
  request.dns_names = {"localhost"};
  ASSIGN_OR_RETURN(identity::X509Svid svid,
                   identity::MintX509Svid(request, m->signer, clock_));
  ASSIGN_OR_RETURN(identity::CertChain root,
                   identity::CertsFromDer(m->root_der));
  for (identity::UniqueX509& c : root) svid.chain.push_back(std::move(c));
  ServerTlsIdentity out;
  out.chain_pem = identity::CertsToPem(svid.chain);
  ASSIGN_OR_RETURN(out.key_pem, identity::PrivateKeyToPkcs8Pem(*svid.key));
  out.not_after = svid.not_after;
  return out;
}

}  // namespace mayfly::server
