// The trust domain's certificate authority and its on-disk state.
//
// A CA directory (mode 0700) holds:
//   trust_domain    the trust domain name, written last: its presence marks a
//                   complete directory
//   root_key.pem    the root's PKCS#8 private key, mode 0600
//   root_cert.pem   the self-signed root certificate
//   bundle.pem      every root the trust domain trusts (more than one during a
//                   root rotation)
// Every file is written atomically (identity/file_util.h). The root key only
// signs intermediates; leaves come from those.
//
// Thread-compatible: const methods may be called concurrently.
#ifndef MAYFLY_IDENTITY_CA_H_
#define MAYFLY_IDENTITY_CA_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/jwt.h"
#include "identity/keys.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {

// A year: long enough that a root rotation is a planned event, short enough
// that one is practised.
inline constexpr absl::Duration kDefaultRootTtl = absl::Hours(24 * 365);
// Intermediates live hours; an agent renews its own at half-life.
inline constexpr absl::Duration kDefaultIntermediateTtl = absl::Hours(6);

inline constexpr absl::string_view kTrustDomainFile = "trust_domain";
inline constexpr absl::string_view kRootKeyFile = "root_key.pem";
inline constexpr absl::string_view kRootCertFile = "root_cert.pem";
inline constexpr absl::string_view kBundleFile = "bundle.pem";
// The trust domain's JWT-SVID signing key (P-256, PKCS#8, mode 0600).
inline constexpr absl::string_view kJwtKeyFile = "jwt_key.pem";

// DIR/FILE for one of the files above.
std::string CaPath(const std::string& dir, absl::string_view file);

// The trust domain and bundle of the CA in `dir`, read without its key.
// NotFound when `dir` holds no CA; errors name the file.
absl::StatusOr<X509Bundle> ReadCaBundle(const std::string& dir);

// Refuses a CA another local user could have written: `dir` must pass
// CheckTrustedDir and each of the files above that exists CheckTrustedFile
// (keys private). Load calls it; so does anything that acts on the
// directory's files before loading it.
absl::Status CheckCaFilesTrusted(const std::string& dir);

class CertificateAuthority {
 public:
  struct Options {
    TrustDomain trust_domain;
    KeyType key_type = kDefaultKeyType;
    absl::Duration root_ttl = kDefaultRootTtl;
  };

  // Creates a new root in `dir`. AlreadyExists if `dir` holds a CA.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Create(
      const std::string& dir, const Options& options, const Clock& clock);

  // Loads the CA in `dir`, checking that the files agree with each other and
  // that nobody but this uid or root could have written them
  // (CheckCaFilesTrusted; PermissionDenied naming the path otherwise).
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Load(
      const std::string& dir, const Clock& clock);
  // The same, with the root in `key_file`/`cert_file` of `dir` instead of
  // root_key.pem/root_cert.pem: the prepared next root of a rotation
  // (root_rotation.h), which signs replicas' next intermediates while the
  // current root still signs everything else.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> LoadWithRoot(
      const std::string& dir, absl::string_view key_file,
      absl::string_view cert_file, const Clock& clock);

  const TrustDomain& trust_domain() const { return bundle_.trust_domain(); }
  const X509Bundle& bundle() const { return bundle_; }
  const Signer& root() const { return root_; }
  const std::string& dir() const { return dir_; }

  // The trust domain's JWT signing key, created on first use.
  absl::StatusOr<JwtSigningKey> LoadOrCreateJwtKey() const;

  // A fresh intermediate, signed by the root, for minting leaves.
  absl::StatusOr<Signer> IssueIntermediate(
      absl::Duration ttl = kDefaultIntermediateTtl,
      KeyType key_type = kDefaultKeyType) const;

  // An intermediate for the key of `csr_der` (PKCS#10, DER), which must be
  // signed by that key and name only this trust domain's ID
  // (spiffe://TD) as its URI SAN: how an admin machine certifies a
  // mayfly-server replica's own key, so the root never sits on a server.
  // InvalidArgument/PermissionDenied naming what is wrong with the CSR.
  absl::StatusOr<UniqueX509> SignIntermediateCsr(absl::string_view csr_der,
                                                 absl::Duration ttl) const;

 private:
  CertificateAuthority(std::string dir, Signer root, X509Bundle bundle,
                       const Clock& clock)
      : dir_(std::move(dir)),
        root_(std::move(root)),
        bundle_(std::move(bundle)),
        clock_(clock) {}

  const std::string dir_;
  const Signer root_;
  const X509Bundle bundle_;
  const Clock& clock_;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_CA_H_
