// The PEM files that programs which read files get their identity from.
//
// Same names as spiffe-helper: svid.pem (leaf first, then intermediates),
// svid_key.pem (PKCS#8, mode 0600) and svid_bundle.pem. Each file is written
// atomically; the key is written before the certificate, so a reader woken by
// a new svid.pem finds the matching key already in place.
#ifndef MAYFLY_IDENTITY_SVID_FILES_H_
#define MAYFLY_IDENTITY_SVID_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "identity/bundle.h"
#include "identity/openssl_util.h"

namespace mayfly::identity {

inline constexpr absl::string_view kSvidFile = "svid.pem";
inline constexpr absl::string_view kSvidKeyFile = "svid_key.pem";
inline constexpr absl::string_view kSvidBundleFile = "svid_bundle.pem";

struct SvidFiles {
  CertChain chain;
  UniqueEvpPkey key;
  CertChain bundle;
};

// Creates `dir` (0755) if needed and writes the three files.
absl::Status WriteSvidFiles(const std::string& dir, const CertChain& chain,
                            const EVP_PKEY& key, const CertChain& bundle);

// Reads the three files back, checking that the key matches the leaf.
absl::StatusOr<SvidFiles> ReadSvidFiles(const std::string& dir);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_SVID_FILES_H_
