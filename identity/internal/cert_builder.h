// Internal: one certificate from a full description of its fields.
//
// The public minting functions (identity/x509_svid.h, identity/ca_certs.h)
// fill a CertTemplate with the values the SPIFFE spec requires; tests fill it
// with wrong values on purpose to check that verification rejects them.
// Nothing outside identity/ should include this header.
#ifndef MAYFLY_IDENTITY_INTERNAL_CERT_BUILDER_H_
#define MAYFLY_IDENTITY_INTERNAL_CERT_BUILDER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/openssl_util.h"
#include "identity/subject.h"

namespace mayfly::identity {

namespace internal {

struct CertTemplate {
  Subject subject;
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  // When set, a basicConstraints extension (critical) with this cA value.
  std::optional<bool> is_ca;
  std::optional<int> path_len;
  // keyUsage bits (OpenSSL's KU_* constants); 0 omits the extension.
  int key_usage = 0;
  // extendedKeyUsage NIDs; empty omits the extension.
  std::vector<int> ext_key_usage;
  absl::Time not_before;
  absl::Time not_after;
  // Subject and authority key identifiers (RFC 5280 4.2.1.1-2).
  bool key_ids = true;
};

// The X.509 Name with `subject`'s attributes in order. An unknown attribute
// or a value over its length limit is an InvalidArgument naming it.
absl::StatusOr<UniqueX509Name> SubjectToName(const Subject& subject);

// RFC 5280 4.1.2.2: serials are positive and at most 20 octets; CA/B Forum
// asks for at least 64 random bits. 16 random octets with the top bit cleared
// (positive) and the next one set (never shorter) carry 126 random bits.
inline constexpr int kSerialBytes = 16;
absl::Status RandomSerial(unsigned char (&bytes)[kSerialBytes]);

// Builds and signs a certificate for `subject_key`. With `issuer` null the
// certificate is self-signed by `signing_key` (which must then be the
// subject key); otherwise `signing_key` is the issuer's private key.
absl::StatusOr<UniqueX509> BuildCertificate(const CertTemplate& tmpl,
                                            EVP_PKEY& subject_key, X509* issuer,
                                            EVP_PKEY& signing_key);

}  // namespace internal
}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_INTERNAL_CERT_BUILDER_H_
