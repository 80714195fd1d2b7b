// Internal: X.509-SVID leaves encoded straight to DER.
//
// The agent mints a leaf per workload every few minutes and serves it as DER,
// so the leaf never needs to exist as an OpenSSL X509 object on that path.
// Building one through X509_new/X509_sign costs about half again the raw
// cryptography (tests/bench/mint_bench.cc measures both); this encoder writes
// the TBSCertificate from the few values that vary and signs it once. The
// result is checked field by field against the X509 path by the mint tests,
// and against the real openssl binary by tests/openssl_interop_test.sh.
#ifndef MAYFLY_IDENTITY_INTERNAL_LEAF_DER_H_
#define MAYFLY_IDENTITY_INTERNAL_LEAF_DER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/internal/cert_builder.h"
#include "identity/openssl_util.h"

namespace mayfly::identity::internal {

// The DER of an X.509 Name with `subject`'s attributes in order.
absl::StatusOr<std::string> SubjectToDer(const Subject& subject);

struct LeafFields {
  std::string uri;
  std::vector<std::string> dns_names;
  // From SubjectToDer; callers cache the DER of a subject they reuse.
  std::string subject_der;
  // keyUsage bits among the first eight (OpenSSL's KU_* values).
  int key_usage = 0;
  absl::Time not_before;
  absl::Time not_after;
};

// A leaf with basicConstraints cA=false (critical), keyUsage (critical), EKU
// serverAuth+clientAuth, the SAN (critical when the subject is empty), SKI
// and AKI, signed by `issuer_key` for `issuer`. Returns its DER.
absl::StatusOr<std::string> BuildLeafDer(const LeafFields& fields,
                                         EVP_PKEY& subject_key, X509& issuer,
                                         EVP_PKEY& issuer_key);

}  // namespace mayfly::identity::internal

#endif  // MAYFLY_IDENTITY_INTERNAL_LEAF_DER_H_
