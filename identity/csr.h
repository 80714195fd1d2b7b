// PKCS#10 certificate signing requests for X.509-SVIDs.
//
// In server mode the agent keeps its workloads' private keys and sends the
// server a CSR per SVID; the server signs only a CSR that names exactly the
// entry's SPIFFE ID and DNS names, asks for no CA, and is signed by its own
// key. This file builds such a CSR and reads one back without trusting it.
#ifndef MAYFLY_IDENTITY_CSR_H_
#define MAYFLY_IDENTITY_CSR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {

// A CSR for an SVID is a few hundred bytes; this bounds what a peer can make
// the server parse.
inline constexpr size_t kMaxCsrBytes = 16 * 1024;

// A CSR (DER) for `id` with `dns_names`, signed by `key` (SHA-256; Ed25519
// signs without a digest). The subject is empty: the signer sets it.
absl::StatusOr<std::string> MakeSvidCsrDer(
    const EVP_PKEY& key, const SpiffeId& id,
    const std::vector<std::string>& dns_names);

// What a CSR asks for, once its self-signature has been checked.
struct ParsedCsr {
  // The key the certificate would certify. Owned.
  UniqueEvpPkey public_key;
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  // Any other kind of SAN (email, IP, directory name, ...).
  int other_names = 0;
  // A basicConstraints extension asking for cA=TRUE.
  bool asks_ca = false;
};

// Parses `der`. InvalidArgument if it is larger than kMaxCsrBytes, not a
// PKCS#10 request, not signed by its own key, or its extensions cannot be
// read.
absl::StatusOr<ParsedCsr> ParseCsrDer(absl::string_view der);

// OK if `csr` asks for exactly `id` (one URI SAN) and exactly `dns_names`
// (in any order), no other SAN, and no CA. Otherwise PermissionDenied
// naming the first difference.
absl::Status CheckCsrMatches(const ParsedCsr& csr, const SpiffeId& id,
                             const std::vector<std::string>& dns_names);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_CSR_H_
