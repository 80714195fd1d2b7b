// Files that must never be torn or readable by others.
//
// WriteFileAtomically is the only way Mayfly writes state or PEM files: the
// data goes to a temporary file in the same directory, is fsynced, and is then
// renamed over the target, and the directory is fsynced. A crash at any point
// leaves either the old file or the new one, whole. The temporary file is
// created with the final mode, so a key is never readable by others, not even
// for a moment.
#ifndef MAYFLY_IDENTITY_FILE_UTIL_H_
#define MAYFLY_IDENTITY_FILE_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::identity {

// Mode for private keys and anything derived from them.
inline constexpr mode_t kPrivateFileMode = 0600;
// Mode for certificates and bundles: public data.
inline constexpr mode_t kPublicFileMode = 0644;
// Mode for directories that hold keys.
inline constexpr mode_t kPrivateDirMode = 0700;

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode);

// Reads a whole file; refuses files over `max_bytes` (default 16 MiB) so a
// wrong path cannot make us read a device or a huge log.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes = 16 << 20);

// Creates `path` (and missing parents, 0755) as a directory with mode 0700. An
// existing directory is tightened to 0700; one owned by another user is an
// error.
absl::Status EnsurePrivateDir(const std::string& path);

// Creates `path` and missing parents with `mode` if they do not exist.
absl::Status EnsureDir(const std::string& path, mode_t mode);

bool PathExists(const std::string& path);

// Makes a rename or unlink of `path` durable: fsyncs its directory.
absl::Status SyncParentDir(const std::string& path);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_FILE_UTIL_H_
