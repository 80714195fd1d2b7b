// Checking mayfly-server's chain: see tls.h.
#include "identity/agent/remote/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::agent::remote {
namespace {

absl::StatusOr<std::string> Sha256Hex(X509& cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(&cert, EVP_sha256(), digest, &length) != 1) {
    return absl::InternalError("cannot hash the server's root");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

class Verifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  Verifier(std::shared_ptr<const ServerTrustSource> trust,
           const identity::Clock& clock)
      : trust_(std::move(trust)), clock_(clock) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref chain = request->peer_cert_full_chain();
    const absl::Status s = VerifyServerChain(
        *trust_->Current(), absl::string_view(chain.data(), chain.size()),
        clock_.Now());
    *sync_status = s.ok() ? grpc::Status::OK
                          : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                         std::string(s.message()));
    return true;  // answered synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  const std::shared_ptr<const ServerTrustSource> trust_;
  const identity::Clock& clock_;
};

// OK if the leaf of `chain` is an X.509-SVID for the server's ID that
// verifies to a root of `bundle`.
absl::Status VerifyToBundle(const ServerTrust& trust,
                            const identity::CertChain& chain,
                            const identity::X509Bundle& bundle,
                            absl::Time now) {
  absl::StatusOr<identity::VerifiedSvid> verified =
      identity::VerifyX509Svid(chain, bundle, now);
  if (!verified.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("mayfly-server's certificate is not trusted: ",
                     verified.status().message()));
  }
  const std::string want =
      absl::StrCat("spiffe://", trust.trust_domain.name(), kServerIdPath);
  if (verified->id.ToString() != want) {
    return absl::UnauthenticatedError(
        absl::StrCat("mayfly-server's certificate names ",
                     verified->id.ToString(), ", not ", want));
  }
  return absl::OkStatus();
}

// The configured bundle, or else the pin.
absl::Status VerifyToBootstrap(const ServerTrust& trust,
                               identity::CertChain chain, absl::Time now) {
  if (trust.bundle.has_value()) {
    return VerifyToBundle(trust, chain, *trust.bundle, now);
  }
  X509& root = *chain.back();
  ASSIGN_OR_RETURN(std::string digest, Sha256Hex(root));
  if (chain.size() < 2 || X509_check_issued(&root, &root) != X509_V_OK ||
      digest != trust.root_sha256) {
    return absl::UnauthenticatedError(absl::StrCat(
        "mayfly-server's chain does not end with the pinned root (sha256 ",
        trust.root_sha256, "); its last certificate has sha256 ", digest));
  }
  identity::X509Bundle pinned(trust.trust_domain);
  pinned.AddRoot(root);
  chain.pop_back();
  return VerifyToBundle(trust, chain, pinned, now);
}

}  // namespace

absl::StatusOr<ServerTrust> ServerTrust::Load(
    const identity::TrustDomain& trust_domain, const std::string& bundle_file,
    const std::string& root_sha256) {
  ServerTrust trust{trust_domain, std::nullopt, root_sha256};
  if (!bundle_file.empty()) {
    ASSIGN_OR_RETURN(std::string pem, identity::ReadFile(bundle_file));
    absl::StatusOr<identity::X509Bundle> bundle =
        identity::X509Bundle::FromPem(trust_domain, pem);
    if (!bundle.ok() || bundle->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          bundle_file, ": not a PEM bundle of CA certificates",
          bundle.ok() ? "" : absl::StrCat(": ", bundle.status().message())));
    }
    trust.bundle = *std::move(bundle);
  }
  return trust;
}

absl::Status VerifyServerChain(const ServerTrust& trust,
                               absl::string_view chain_pem, absl::Time now) {
  absl::StatusOr<identity::CertChain> chain = identity::CertsFromPem(chain_pem);
  if (!chain.ok() || chain->empty()) {
    return absl::UnauthenticatedError(
        "mayfly-server sent no readable certificate chain");
  }
  // Roots the server itself sent on Sync: after a rotation, the only ones
  // its new chain leads to.
  absl::Status learned = absl::OkStatus();
  if (trust.learned.has_value()) {
    learned = VerifyToBundle(trust, *chain, *trust.learned, now);
    if (learned.ok()) return learned;
  }
  absl::Status bootstrap =
      VerifyToBootstrap(trust, identity::ShareChain(*chain), now);
  if (bootstrap.ok() || learned.ok()) return bootstrap;
  return absl::UnauthenticatedError(absl::StrCat(
      "with the roots the server sent on Sync: ", learned.message(),
      "; with the configured trust: ", bootstrap.message()));
}

ServerTrustSource::ServerTrustSource(ServerTrust bootstrap)
    : current_(std::make_shared<const ServerTrust>(std::move(bootstrap))) {}

std::shared_ptr<const ServerTrust> ServerTrustSource::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<bool> ServerTrustSource::Learn(
    const identity::X509Bundle& roots) {
  absl::MutexLock lock(&mu_);
  if (roots.trust_domain() != current_->trust_domain) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server roots for \"", roots.trust_domain().name(), "\", not \"",
        current_->trust_domain.name(), "\": the server's trust is unchanged"));
  }
  if (roots.empty()) {
    return absl::InvalidArgumentError(
        "an empty bundle: the server's trust is unchanged");
  }
  if (current_->learned.has_value() &&
      current_->learned->ToDer() == roots.ToDer()) {
    return false;
  }
  auto next = std::make_shared<ServerTrust>(*current_);
  next->learned = roots;
  current_ = std::move(next);
  return true;
}

std::shared_ptr<grpc::ChannelCredentials> ServerChannelCredentials(
    std::shared_ptr<const ServerTrustSource> trust,
    const identity::Clock& clock, const std::string& cert_chain_pem,
    const std::string& key_pem) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!cert_chain_pem.empty()) {
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            std::vector<grpc::experimental::IdentityKeyCertPair>{
                {key_pem, cert_chain_pem}}));
    options.watch_identity_key_cert_pairs();
  }
  // gRPC's own checks (a CA file, the hostname) do not apply: the verifier
  // does all of it.
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<Verifier>(
          std::move(trust), clock));
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace mayfly::agent::remote
