// CA creation, loading and intermediate issuance.
#include "identity/ca.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

// The files whose owner and mode Load vouches for, and whether each is a key.
struct CaFile {
  absl::string_view name;
  bool is_key;
};
constexpr CaFile kCaFiles[] = {{kTrustDomainFile, false},
                               {kRootKeyFile, true},
                               {kRootCertFile, false},
                               {kBundleFile, false},
                               {kJwtKeyFile, true}};

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateAuthority>>
CertificateAuthority::Create(const std::string& dir, const Options& options,
                             const Clock& clock) {
  if (PathExists(CaPath(dir, kTrustDomainFile))) {
    return absl::AlreadyExistsError(
        absl::StrCat("a CA already exists in ", dir));
  }
  RETURN_IF_ERROR(EnsurePrivateDir(dir));
  CaRequest request{
      options.trust_domain, options.root_ttl, {}, options.key_type};
  ASSIGN_OR_RETURN(Signer root, MintRootCa(request, clock));
  ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPkcs8Pem(*root.key));
  X509Bundle bundle(options.trust_domain);
  bundle.AddRoot(*root.cert);

  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kRootKeyFile), key_pem,
                                      kPrivateFileMode));
  CertChain root_only;
  root_only.push_back(ShareCert(root.cert.get()));
  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kRootCertFile),
                                      CertsToPem(root_only), kPublicFileMode));
  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kBundleFile), bundle.ToPem(),
                                      kPublicFileMode));
  // Written last: a crash before this line leaves no half-made CA behind
  // that Load would accept.
  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kTrustDomainFile),
                                      options.trust_domain.name() + "\n",
                                      kPublicFileMode));
  return std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(dir, std::move(root), std::move(bundle), clock));
}

absl::StatusOr<JwtSigningKey> CertificateAuthority::LoadOrCreateJwtKey() const {
  const std::string path = CaPath(dir_, kJwtKeyFile);
  if (!PathExists(path)) {
    ASSIGN_OR_RETURN(JwtSigningKey key, GenerateJwtSigningKey());
    ASSIGN_OR_RETURN(std::string pem, PrivateKeyToPkcs8Pem(*key.key));
    RETURN_IF_ERROR(WriteFileAtomically(path, pem, kPrivateFileMode));
    return key;
  }
  RETURN_IF_ERROR(CheckTrustedFile(path, /*private_file=*/true));
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  absl::StatusOr<UniqueEvpPkey> key = PrivateKeyFromPem(pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", key.status().message()));
  }
  absl::StatusOr<JwtSigningKey> jwt = JwtSigningKeyFromKey(*std::move(key));
  if (!jwt.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", jwt.status().message()));
  }
  return jwt;
}

absl::Status CheckCaFilesTrusted(const std::string& dir) {
  RETURN_IF_ERROR(CheckTrustedDir(dir));
  for (const CaFile& file : kCaFiles) {
    const std::string path = CaPath(dir, file.name);
    // A missing file is Load's to report, with its own message.
    if (!PathExists(path)) continue;
    RETURN_IF_ERROR(CheckTrustedFile(path, file.is_key));
  }
  return absl::OkStatus();
}

std::string CaPath(const std::string& dir, absl::string_view file) {
  return absl::StrCat(dir, "/", file);
}

absl::StatusOr<X509Bundle> ReadCaBundle(const std::string& dir) {
  const std::string td_path = CaPath(dir, kTrustDomainFile);
  absl::StatusOr<std::string> td_text = ReadFile(td_path);
  if (!td_text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no CA in ", dir, " (", td_text.status().message(),
                     "); create one with `mayfly ca init`"));
  }
  absl::StatusOr<TrustDomain> td =
      TrustDomain::FromString(absl::StripAsciiWhitespace(*td_text));
  if (!td.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(td_path, ": ", td.status().message()));
  }
  const std::string bundle_path = CaPath(dir, kBundleFile);
  ASSIGN_OR_RETURN(std::string bundle_pem, ReadFile(bundle_path));
  absl::StatusOr<X509Bundle> bundle = X509Bundle::FromPem(*td, bundle_pem);
  if (!bundle.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(bundle_path, ": ", bundle.status().message()));
  }
  return bundle;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>>
CertificateAuthority::Load(const std::string& dir, const Clock& clock) {
  return LoadWithRoot(dir, kRootKeyFile, kRootCertFile, clock);
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>>
CertificateAuthority::LoadWithRoot(const std::string& dir,
                                   absl::string_view key_file,
                                   absl::string_view cert_file,
                                   const Clock& clock) {
  // NotFound (no CA yet) must stay NotFound so the agent creates one.
  if (!PathExists(CaPath(dir, kTrustDomainFile)))
    return ReadCaBundle(dir).status();
  RETURN_IF_ERROR(CheckCaFilesTrusted(dir));
  ASSIGN_OR_RETURN(X509Bundle bundle, ReadCaBundle(dir));

  const std::string key_path = CaPath(dir, key_file);
  RETURN_IF_ERROR(CheckTrustedFile(key_path, /*private_file=*/true));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
  absl::StatusOr<UniqueEvpPkey> key = PrivateKeyFromPem(key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, ": ", key.status().message()));
  }

  const std::string cert_path = CaPath(dir, cert_file);
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path));
  absl::StatusOr<CertChain> certs = CertsFromPem(cert_pem);
  if (!certs.ok() || certs->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_path, ": must hold exactly one root certificate"));
  }
  if (!KeyMatchesCert(**key, *(*certs)[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, " does not hold the private key of ", cert_path));
  }

  if (!bundle.Contains(*(*certs)[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        CaPath(dir, kBundleFile), " does not contain the root in ", cert_path));
  }
  Signer root{std::move((*certs)[0]), std::move(*key), {}};
  return std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(dir, std::move(root), std::move(bundle), clock));
}

absl::StatusOr<Signer> CertificateAuthority::IssueIntermediate(
    absl::Duration ttl, KeyType key_type) const {
  CaRequest request{trust_domain(), ttl, {}, key_type};
  return MintIntermediateCa(request, root_, clock_);
}

absl::StatusOr<UniqueX509> CertificateAuthority::SignIntermediateCsr(
    absl::string_view csr_der, absl::Duration ttl) const {
  ASSIGN_OR_RETURN(ParsedCsr csr, ParseCsrDer(csr_der));
  const std::string want = trust_domain().IdString();
  if (csr.uris.size() != 1 || csr.uris[0] != want || !csr.dns_names.empty() ||
      csr.other_names != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CSR names [", absl::StrJoin(csr.uris, ", "), "] and ",
        csr.dns_names.size() + csr.other_names,
        " other subjectAltName(s); an intermediate CSR must name exactly ",
        want));
  }
  CaRequest request{trust_domain(), ttl, {}, kDefaultKeyType};
  return MintIntermediateCaForKey(request, *csr.public_key, root_, clock_);
}

}  // namespace mayfly::identity
