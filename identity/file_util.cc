// Atomic, permission-exact file writes and private directories.
#include "identity/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"

namespace mayfly::identity {

absl::Status ErrnoError(absl::string_view what, absl::string_view path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

namespace {

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// fsync on a directory makes a rename in it durable.
absl::Status SyncDir(const std::string& dir) {
  const UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open directory", dir);
  if (fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

bool TrustedOwner(uid_t uid) { return uid == geteuid() || uid == 0; }

bool WritableByOthers(const struct stat& st) { return (st.st_mode & 022) != 0; }

// One wording for every refusal: what is wrong, what was found, what is
// expected, and the command that fixes it.
absl::Status Untrusted(absl::string_view what, const std::string& path,
                       absl::string_view problem, const struct stat& st,
                       absl::string_view expected, absl::string_view fix) {
  return absl::PermissionDeniedError(absl::StrFormat(
      "%s %s %s (owner uid %d, mode %04o); expected %s; %s", what, path,
      problem, st.st_uid, st.st_mode & 07777, expected, fix));
}

std::string ExpectedOwner() {
  if (geteuid() == 0) return "owner uid 0 (root, this process)";
  return absl::StrCat("owner uid ", geteuid(), " (this process) or 0 (root)");
}

// One ancestor of a trusted directory: a directory or symlink that only we
// or root could have put there, which nobody else can rename entries in.
absl::Status CheckAncestor(const std::string& ancestor,
                           const std::string& path) {
  struct stat st;
  if (lstat(ancestor.c_str(), &st) != 0) {
    return ErrnoError("cannot stat ancestor directory", ancestor);
  }
  const std::string what = absl::StrCat("ancestor of ", path, ":");
  const std::string expected = absl::StrCat(
      ExpectedOwner(), ", not writable by group or others unless sticky");
  if (!TrustedOwner(st.st_uid)) {
    return Untrusted(what, ancestor, "is owned by another user", st, expected,
                     "move the directory out of it");
  }
  if (S_ISLNK(st.st_mode)) return absl::OkStatus();
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(ancestor, " (an ancestor of ", path,
                     ") exists and is not a directory"));
  }
  if (WritableByOthers(st) && (st.st_mode & S_ISVTX) == 0) {
    return Untrusted(what, ancestor, "is writable by group or others", st,
                     expected, absl::StrCat("chmod go-w ", ancestor));
  }
  return absl::OkStatus();
}

// Checks every proper ancestor of the absolute path `path`, root first.
absl::Status CheckAncestors(const std::string& path, const std::string& of) {
  RETURN_IF_ERROR(CheckAncestor("/", of));
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (path[slash - 1] == '/') continue;  // "a//b"
    RETURN_IF_ERROR(CheckAncestor(path.substr(0, slash), of));
  }
  return absl::OkStatus();
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

}  // namespace

absl::Status CheckTrustedDir(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  std::string absolute = Absolute(path);
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  if (absolute == "/") return CheckAncestor("/", path);
  // As written: catches a symlink planted among the ancestors.
  RETURN_IF_ERROR(CheckAncestors(absolute, path));
  struct stat st;
  if (lstat(absolute.c_str(), &st) != 0) return ErrnoError("cannot stat", path);
  if (S_ISLNK(st.st_mode)) {
    return Untrusted("directory", path, "is a symbolic link", st,
                     "a real directory",
                     "name the directory it points to instead, after "
                     "checking who owns that");
  }
  // As resolved: the ancestors a symlink above leads to.
  char resolved[PATH_MAX];
  if (realpath(absolute.c_str(), resolved) == nullptr) {
    return ErrnoError("cannot resolve", path);
  }
  RETURN_IF_ERROR(CheckAncestors(resolved, path));
  // The directory itself through a descriptor that cannot have followed a
  // link swapped in since the lstat above.
  const UniqueFd fd(
      open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOTDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a directory"));
    }
    return ErrnoError("cannot open directory", path);
  }
  if (fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", path);
  const std::string expected =
      absl::StrCat(ExpectedOwner(), ", not writable by group or others");
  if (!TrustedOwner(st.st_uid)) {
    return Untrusted("directory", path, "is owned by another user", st,
                     expected,
                     absl::StrCat("remove it, or chown ", geteuid(), " ", path,
                                  " after checking its contents"));
  }
  if (WritableByOthers(st)) {
    return Untrusted(
        "directory", path, "is writable by group or others", st, expected,
        absl::StrCat("chmod go-w ", path, " after checking its contents"));
  }
  return absl::OkStatus();
}

absl::Status EnsureTrustedDir(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  // Check what already exists before creating beneath it, so a directory
  // another user planted is named as the problem, not met as a failed mkdir.
  std::string existing = Absolute(path);
  struct stat st;
  while (existing != "/" && lstat(existing.c_str(), &st) != 0 &&
         errno == ENOENT) {
    existing = DirName(existing);
  }
  if (existing != Absolute(path)) {
    // The trailing slash makes `existing` itself one of the ancestors.
    RETURN_IF_ERROR(CheckAncestors(absl::StrCat(existing, "/"), path));
  }
  RETURN_IF_ERROR(EnsureDir(path, mode));
  return CheckTrustedDir(path);
}

absl::Status CheckTrustedFile(const std::string& path, bool private_file) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path);
  const std::string expected =
      absl::StrCat("a regular file with ", ExpectedOwner(), ", not ",
                   private_file ? "readable or writable" : "writable",
                   " by group or others");
  if (!S_ISREG(st.st_mode)) {
    return Untrusted("file", path, "is not a regular file", st, expected,
                     "remove it");
  }
  if (!TrustedOwner(st.st_uid)) {
    return Untrusted("file", path, "is owned by another user", st, expected,
                     "it may have been planted: remove it, or restore the "
                     "directory from backup");
  }
  if ((st.st_mode & (private_file ? 077 : 022)) != 0) {
    return Untrusted(
        private_file ? "key file" : "file", path,
        private_file ? "is readable or writable by group or others"
                     : "is writable by group or others",
        st, expected,
        absl::StrCat("chmod ", private_file ? "600 " : "go-w ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode) {
  const std::string dir = DirName(path);
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  // mkstemp creates the file 0600, so a key is private from its first byte;
  // fchmod below only ever widens it to the final mode.
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot create temporary file for", path);
  absl::Status status = absl::OkStatus();
  if (fchmod(fd.get(), mode) != 0) status = ErrnoError("cannot chmod", tmp);
  if (status.ok()) status = WriteAll(fd.get(), data, tmp);
  if (status.ok() && fsync(fd.get()) != 0) {
    status = ErrnoError("cannot fsync", tmp);
  }
  if (fd.Close() != 0 && status.ok()) status = ErrnoError("cannot close", tmp);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot rename temporary file onto", path);
  }
  if (!status.ok()) {
    unlink(tmp.c_str());
    return status;
  }
  return SyncDir(dir);
}

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open", path);
  std::string out;
  char buf[16384];
  while (true) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "file ", path, " is larger than the limit of ", max_bytes, " bytes"));
    }
  }
  return out;
}

absl::Status EnsureDir(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  const std::string parent = DirName(path);
  if (parent != path) RETURN_IF_ERROR(EnsureDir(parent, 0755));
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create directory", path);
  }
  // mkdir applies the umask; set the exact mode asked for.
  if (chmod(path.c_str(), mode) != 0) return ErrnoError("cannot chmod", path);
  return absl::OkStatus();
}

absl::Status EnsurePrivateDir(const std::string& path) {
  RETURN_IF_ERROR(EnsureTrustedDir(path, kPrivateDirMode));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path);
  if ((st.st_mode & 07777) != kPrivateDirMode &&
      chmod(path.c_str(), kPrivateDirMode) != 0) {
    return ErrnoError("cannot chmod", path);
  }
  return absl::OkStatus();
}

absl::Status SyncParentDir(const std::string& path) {
  return SyncDir(DirName(path));
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace mayfly::identity
