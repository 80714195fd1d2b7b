// Writing and reading the svid.pem / svid_key.pem / svid_bundle.pem triple.
#include "identity/svid_files.h"

#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::identity {

absl::Status WriteSvidFiles(const std::string& dir, const CertChain& chain,
                            const EVP_PKEY& key, const CertChain& bundle) {
  if (chain.empty()) return absl::InvalidArgumentError("empty SVID chain");
  RETURN_IF_ERROR(EnsureDir(dir, 0755));
  ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPkcs8Pem(key));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/", kSvidBundleFile),
                                      CertsToPem(bundle), kPublicFileMode));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/", kSvidKeyFile),
                                      key_pem, kPrivateFileMode));
  return WriteFileAtomically(absl::StrCat(dir, "/", kSvidFile),
                             CertsToPem(chain), kPublicFileMode);
}

absl::StatusOr<SvidFiles> ReadSvidFiles(const std::string& dir) {
  const std::string cert_path = absl::StrCat(dir, "/", kSvidFile);
  const std::string key_path = absl::StrCat(dir, "/", kSvidKeyFile);
  const std::string bundle_path = absl::StrCat(dir, "/", kSvidBundleFile);
  SvidFiles files;
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
  ASSIGN_OR_RETURN(std::string bundle_pem, ReadFile(bundle_path));
  auto in = [](const std::string& path, const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat(path, ": ", status.message()));
  };
  absl::StatusOr<CertChain> chain = CertsFromPem(cert_pem);
  if (!chain.ok()) return in(cert_path, chain.status());
  absl::StatusOr<UniqueEvpPkey> key = PrivateKeyFromPem(key_pem);
  if (!key.ok()) return in(key_path, key.status());
  absl::StatusOr<CertChain> bundle = CertsFromPem(bundle_pem);
  if (!bundle.ok()) return in(bundle_path, bundle.status());
  if (!KeyMatchesCert(**key, *(*chain)[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, " does not hold the private key of ", cert_path));
  }
  files.chain = std::move(*chain);
  files.key = std::move(*key);
  files.bundle = std::move(*bundle);
  return files;
}

}  // namespace mayfly::identity
