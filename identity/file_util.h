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

// "WHAT PATH: strerror(errno)", as NotFound for ENOENT, PermissionDenied for
// EACCES and EPERM, else Internal. Call it right after the failed call, while
// errno still holds its reason.
absl::Status ErrnoError(absl::string_view what, absl::string_view path);

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode);

// Reads a whole file; refuses files over `max_bytes` (default 16 MiB) so a
// wrong path cannot make us read a device or a huge log.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes = 16 << 20);

// Creates `path` (and missing parents, 0755) as a directory with mode 0700
// through EnsureTrustedDir. An existing directory that passes is
// tightened to 0700 (it may have been readable by others, never writable).
absl::Status EnsurePrivateDir(const std::string& path);

// The one place that decides whether a directory may hold what another local
// user must not replace: a CA, state, or the Workload API socket. The
// directory must
//   - not be a symbolic link (we refuse rather than resolve: a link can be
//     re-pointed by whoever owns it, and an operator who wants another
//     location can name it directly),
//   - be owned by this process's effective uid or by root,
//   - not be writable by group or others.
// Every ancestor, both as written and as resolved, must be owned by this uid
// or root and must not be writable by group or others unless it is sticky
// (like /tmp: others cannot rename or remove entries they do not own). A
// symbolic link among the ancestors must be owned by this uid or root. Once
// this holds, no other user can change what the path names, so a later open
// by path sees the directory that was checked.
// PermissionDenied names the path, its owner and mode, and what is expected;
// NotFound if a component is missing.
absl::Status CheckTrustedDir(const std::string& path);

// Creates `path` like EnsureDir, refusing first if an existing ancestor fails
// CheckTrustedDir's ancestor rule, and then checks `path` with
// CheckTrustedDir. Where the agent puts its socket and state.
absl::Status EnsureTrustedDir(const std::string& path, mode_t mode);

// Checks a file in a trusted directory: a regular file (not a symlink) owned
// by this uid or root, not writable by group or others, and, when
// `private_file`, not readable by them either. Same errors as above.
absl::Status CheckTrustedFile(const std::string& path, bool private_file);

// Creates `path` and missing parents with `mode` if they do not exist.
absl::Status EnsureDir(const std::string& path, mode_t mode);

bool PathExists(const std::string& path);

// Makes a rename or unlink of `path` durable: fsyncs its directory.
absl::Status SyncParentDir(const std::string& path);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_FILE_UTIL_H_
