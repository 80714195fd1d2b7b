// Atomic, permission-exact file writes and private directories.
#include "identity/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// fsync on a directory makes a rename in it durable.
absl::Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open directory", dir);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoError("cannot fsync directory", dir);
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

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, mode_t mode) {
  const std::string dir = DirName(path);
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  // mkstemp creates the file 0600, so a key is private from its first byte;
  // fchmod below only ever widens it to the final mode.
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot create temporary file for", path);
  absl::Status status = absl::OkStatus();
  if (fchmod(fd, mode) != 0) status = ErrnoError("cannot chmod", tmp);
  if (status.ok()) status = WriteAll(fd, data, tmp);
  if (status.ok() && fsync(fd) != 0) status = ErrnoError("cannot fsync", tmp);
  if (close(fd) != 0 && status.ok()) status = ErrnoError("cannot close", tmp);
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
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::string out;
  char buf[16384];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = ErrnoError("cannot read", path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(
          "file ", path, " is larger than the limit of ", max_bytes, " bytes"));
    }
  }
  close(fd);
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
  RETURN_IF_ERROR(EnsureDir(path, kPrivateDirMode));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path);
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(
        absl::StrCat("directory ", path, " is owned by uid ", st.st_uid,
                     ", not by this process (uid ", geteuid(), ")"));
  }
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
