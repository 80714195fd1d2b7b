// X.509-SVID verification against a trust bundle at a given instant.
//
// Checks, in order, each failing with a message that names the rule:
//   - the chain is non-empty and every certificate parses;
//   - the leaf has exactly one URI SAN, a valid SPIFFE ID, in the bundle's
//     trust domain;
//   - the leaf is not a CA, has keyUsage with digitalSignature and without
//     keyCertSign or cRLSign, and, if it has an EKU, allows TLS
//     (serverAuth or clientAuth);
//   - every other certificate in the chain is a CA with keyCertSign;
//   - every certificate is valid at `now` (NotBefore <= now < NotAfter, as
//     OpenSSL counts it);
//   - the chain leads to a root of the bundle by valid signatures.
// Status codes: kInvalidArgument for a malformed SVID (rules of the spec),
// kUnauthenticated for a well-formed one that is not trusted now (expired,
// not yet valid, foreign trust domain, unknown root). Thread-safe.
#ifndef MAYFLY_IDENTITY_X509_VERIFY_H_
#define MAYFLY_IDENTITY_X509_VERIFY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {

struct VerifiedSvid {
  SpiffeId id;
  // The verified chain from the leaf up to and including the bundle root.
  CertChain chain;
  // The leaf's NotAfter: the SVID is worthless after this.
  absl::Time expiry;
};

// `chain` is leaf first, as in the Workload API and in svid.pem. The
// certificates are borrowed.
absl::StatusOr<VerifiedSvid> VerifyX509Svid(const CertChain& chain,
                                            const X509Bundle& bundle,
                                            absl::Time now);

// Every URI SAN of a certificate, in order.
std::vector<std::string> UriSans(X509& cert);

// The SPIFFE ID in a leaf's URI SAN, checking only the SAN rules.
absl::StatusOr<SpiffeId> SpiffeIdFromCert(X509& leaf);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_X509_VERIFY_H_
