// Root rotation steps on the CA directory: see root_rotation.h.
#include "identity/root_rotation.h"

#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/ca.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {
namespace {

absl::Status Rename(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("rename ", from, " -> ", to, ": ", std::strerror(errno)));
  }
  return SyncParentDir(to);
}

absl::StatusOr<UniqueX509> ReadOneCert(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  absl::StatusOr<CertChain> certs = CertsFromPem(pem);
  if (!certs.ok() || certs->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": must hold exactly one certificate"));
  }
  return std::move((*certs)[0]);
}

absl::Status WriteBundle(const std::string& dir, const X509Bundle& bundle) {
  return WriteFileAtomically(CaPath(dir, kBundleFile), bundle.ToPem(),
                             kPublicFileMode);
}

// Promote renames the key, then the certificate. A crash in between leaves
// root_key.pem holding the next root's key: finish the second rename.
absl::Status FinishInterruptedPromote(const std::string& dir) {
  const std::string next_cert = CaPath(dir, kNextRootCertFile);
  if (!PathExists(next_cert) || PathExists(CaPath(dir, kNextRootKeyFile))) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(CaPath(dir, kRootKeyFile)));
  ASSIGN_OR_RETURN(UniqueEvpPkey key, PrivateKeyFromPem(key_pem));
  ASSIGN_OR_RETURN(UniqueX509 cert, ReadOneCert(next_cert));
  if (!KeyMatchesCert(*key, *cert)) {
    return absl::DataLossError(absl::StrCat(
        next_cert, " exists without its key and does not match ",
        CaPath(dir, kRootKeyFile), "; restore the CA directory from backup"));
  }
  return Rename(next_cert, CaPath(dir, kRootCertFile));
}

// A staged next root becomes the root on Promote: vouch for it as Load
// vouches for the root, before anything renames or reads it.
absl::Status CheckRotationFilesTrusted(const std::string& dir) {
  if (!PathExists(dir)) return absl::OkStatus();  // Load names a missing CA.
  RETURN_IF_ERROR(CheckCaFilesTrusted(dir));
  for (absl::string_view name : {kNextRootKeyFile, kNextRootCertFile,
                                 kRetiredRootCertFile, kRetiredDropAfterFile}) {
    const std::string path = CaPath(dir, name);
    if (!PathExists(path)) continue;
    RETURN_IF_ERROR(
        CheckTrustedFile(path, /*private_file=*/name == kNextRootKeyFile));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view PhaseName(RootRotationState::Phase phase) {
  switch (phase) {
    case RootRotationState::Phase::kIdle:
      return "idle";
    case RootRotationState::Phase::kPrepared:
      return "prepared";
    case RootRotationState::Phase::kRetiring:
      return "retiring";
  }
  return "?";
}

absl::StatusOr<RootRotationState> InspectRootRotation(const std::string& dir) {
  RETURN_IF_ERROR(CheckRotationFilesTrusted(dir));
  RETURN_IF_ERROR(FinishInterruptedPromote(dir));
  RootRotationState state;
  const bool next = PathExists(CaPath(dir, kNextRootKeyFile));
  const bool retired = PathExists(CaPath(dir, kRetiredRootCertFile));
  if (retired) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadFile(CaPath(dir, kRetiredDropAfterFile)));
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &seconds)) {
      return absl::DataLossError(absl::StrCat(
          CaPath(dir, kRetiredDropAfterFile), ": not a Unix time"));
    }
    state.drop_after = absl::FromUnixSeconds(seconds);
  }
  if (next) {
    // A retired file beside a next root: Promote was interrupted after its
    // first write. It is still "prepared"; Promote runs again.
    state.phase = RootRotationState::Phase::kPrepared;
  } else if (retired) {
    state.phase = RootRotationState::Phase::kRetiring;
  }
  return state;
}

absl::Status PrepareRootRotation(const std::string& dir,
                                 absl::Duration root_ttl, const Clock& clock,
                                 KeyType key_type) {
  ASSIGN_OR_RETURN(RootRotationState state, InspectRootRotation(dir));
  if (state.phase != RootRotationState::Phase::kIdle) {
    return absl::FailedPreconditionError(
        absl::StrCat("a root rotation is already under way in ", dir, " (",
                     PhaseName(state.phase), ")"));
  }
  ASSIGN_OR_RETURN(auto ca, CertificateAuthority::Load(dir, clock));
  ASSIGN_OR_RETURN(
      Signer next,
      MintRootCa(CaRequest{ca->trust_domain(), root_ttl, {}, key_type}, clock));
  ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPkcs8Pem(*next.key));
  CertChain cert;
  cert.push_back(ShareCert(next.cert.get()));
  // Certificate first: a next root is "present" once its key exists.
  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kNextRootCertFile),
                                      CertsToPem(cert), kPublicFileMode));
  RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kNextRootKeyFile), key_pem,
                                      kPrivateFileMode));
  X509Bundle bundle = ca->bundle();
  bundle.AddRoot(*next.cert);
  return WriteBundle(dir, bundle);
}

absl::StatusOr<UniqueX509> ReadNextRoot(const std::string& dir) {
  const std::string path = CaPath(dir, kNextRootCertFile);
  if (!PathExists(path)) {
    return absl::NotFoundError(absl::StrCat("no next root in ", dir));
  }
  return ReadOneCert(path);
}

absl::StatusOr<bool> EnsureNextRootInBundle(const std::string& dir) {
  ASSIGN_OR_RETURN(UniqueX509 next, ReadNextRoot(dir));
  ASSIGN_OR_RETURN(X509Bundle bundle, ReadCaBundle(dir));
  if (!bundle.AddRoot(*next)) return false;
  RETURN_IF_ERROR(WriteBundle(dir, bundle));
  return true;
}

absl::Status PromoteNextRoot(const std::string& dir, absl::Time drop_after) {
  ASSIGN_OR_RETURN(RootRotationState state, InspectRootRotation(dir));
  if (state.phase != RootRotationState::Phase::kPrepared) {
    return absl::FailedPreconditionError(
        absl::StrCat("no prepared root to promote in ", dir));
  }
  // The bundle must carry the next root before it signs anything (a crash
  // in Prepare may have stopped short of it).
  RETURN_IF_ERROR(EnsureNextRootInBundle(dir).status());

  if (!PathExists(CaPath(dir, kRetiredRootCertFile))) {
    ASSIGN_OR_RETURN(std::string old_cert,
                     ReadFile(CaPath(dir, kRootCertFile)));
    RETURN_IF_ERROR(WriteFileAtomically(
        CaPath(dir, kRetiredDropAfterFile),
        absl::StrCat(absl::ToUnixSeconds(drop_after), "\n"), kPublicFileMode));
    RETURN_IF_ERROR(WriteFileAtomically(CaPath(dir, kRetiredRootCertFile),
                                        old_cert, kPublicFileMode));
  }
  RETURN_IF_ERROR(
      Rename(CaPath(dir, kNextRootKeyFile), CaPath(dir, kRootKeyFile)));
  return Rename(CaPath(dir, kNextRootCertFile), CaPath(dir, kRootCertFile));
}

absl::Status DropRetiredRoot(const std::string& dir) {
  ASSIGN_OR_RETURN(RootRotationState state, InspectRootRotation(dir));
  if (state.phase != RootRotationState::Phase::kRetiring) {
    return absl::FailedPreconditionError(
        absl::StrCat("no retired root to drop in ", dir));
  }
  ASSIGN_OR_RETURN(UniqueX509 retired,
                   ReadOneCert(CaPath(dir, kRetiredRootCertFile)));
  ASSIGN_OR_RETURN(X509Bundle bundle, ReadCaBundle(dir));
  if (bundle.RemoveRoot(*retired)) RETURN_IF_ERROR(WriteBundle(dir, bundle));
  // The certificate file goes last: while it exists, the drop is pending.
  unlink(CaPath(dir, kRetiredDropAfterFile).c_str());
  if (unlink(CaPath(dir, kRetiredRootCertFile).c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("unlink retired root: ", std::strerror(errno)));
  }
  return SyncParentDir(CaPath(dir, kRetiredRootCertFile));
}

}  // namespace mayfly::identity
