// Certificates in and out: PEM and DER, single or concatenated.
//
// The Workload API carries chains and bundles as concatenated DER; files use
// PEM. Parsers name the position of the block that failed.
#ifndef MAYFLY_IDENTITY_PEM_H_
#define MAYFLY_IDENTITY_PEM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/openssl_util.h"

namespace mayfly::identity {

// Every "CERTIFICATE" block in order. Other block types (a key in the same
// file) are skipped; no certificate at all is an error.
absl::StatusOr<CertChain> CertsFromPem(absl::string_view pem);
std::string CertsToPem(const CertChain& certs);

// Concatenated DER certificates, as in X509SVID.x509_svid and .bundle.
absl::StatusOr<CertChain> CertsFromDer(absl::string_view der);
std::string CertsToDer(const CertChain& certs);

std::string CertToDer(X509& cert);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_PEM_H_
