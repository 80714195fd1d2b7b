// The PEM files that programs which read files get their identity from.
//
// Same names as spiffe-helper: svid.pem (leaf first, then intermediates),
// svid_key.pem (PKCS#8, mode 0600) and svid_bundle.pem; plus
// svid_keystore.pem (mode 0600): the PKCS#8 key followed by the chain, in
// one file, which is what a Kafka PEM keystore (KIP-651,
// `ssl.keystore.type=PEM`, `ssl.keystore.location`) reads. They are
// replaced as one set, the way Kubernetes' atomic writer updates a
// projected volume:
//
//   DIR/..2026_11_25_13_00_00.Ab12Cd/{svid.pem,svid_key.pem,svid_bundle.pem,
//                                     svid_keystore.pem}
//   DIR/..data -> ..2026_11_25_13_00_00.Ab12Cd
//   DIR/svid.pem -> ..data/svid.pem       (and the same for the others)
//
// Each write fills a new version directory, fsyncs it, and renames one new
// symlink over `..data`: all four names switch to the new set at the same
// instant. The previous version directory is then removed. A version
// directory never changes once `..data` points at it, so a reader that
// resolves `..data` once (open it as a directory, or `cd` into it) reads a
// matching set; a reader that opens svid.pem and svid_key.pem by name, one
// after the other, can straddle a switch and should read svid.pem again
// afterwards and start over if it changed (svid_keystore.pem alone needs no
// such care). A crash at any point leaves `..data` pointing at a complete
// set.
//
// A directory written by an older Mayfly (plain files, or links without
// svid_keystore.pem) is migrated on the first write: its current files are
// copied into a version directory, and each name is replaced by its
// symlink, so readers see the old set, then the new one, never a mix (a
// name the old set lacks dangles until that same write publishes the new
// set). Writers to one directory are serialised with flock.
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
inline constexpr absl::string_view kSvidKeystoreFile = "svid_keystore.pem";
// The symlink that names the current version directory.
inline constexpr absl::string_view kSvidDataLink = "..data";

struct SvidFiles {
  CertChain chain;
  UniqueEvpPkey key;
  CertChain bundle;
};

// Creates `dir` (0755) if needed and switches it to a new set of the four
// files, as described above.
absl::Status WriteSvidFiles(const std::string& dir, const CertChain& chain,
                            const EVP_PKEY& key, const CertChain& bundle);

// Reads one consistent set back (through `..data` when it exists, else the
// plain files of an older layout), checking that the key matches the leaf.
// Reads svid.pem, svid_key.pem and svid_bundle.pem only: svid_keystore.pem
// holds the same key and chain, for Kafka.
absl::StatusOr<SvidFiles> ReadSvidFiles(const std::string& dir);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_SVID_FILES_H_
