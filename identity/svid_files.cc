// Writing and reading the svid.pem / svid_key.pem / svid_bundle.pem /
// svid_keystore.pem set through one `..data` symlink swap (see svid_files.h
// for the layout).
#include "identity/svid_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"

namespace mayfly::identity {
namespace {

// Every name a write publishes.
constexpr std::array<absl::string_view, 4> kNames = {
    kSvidFile, kSvidKeyFile, kSvidBundleFile, kSvidKeystoreFile};
// The names ReadSvidFiles reads, in the order it parses them.
constexpr std::array<absl::string_view, 3> kReadNames = {
    kSvidFile, kSvidKeyFile, kSvidBundleFile};
// Built beside `..data` and renamed over it: rename(2) is the atomic step.
constexpr absl::string_view kDataLinkTmp = "..data_tmp";
// Built beside a name and renamed over it when a name becomes a symlink.
constexpr absl::string_view kNameLinkTmp = "..link_tmp";
// Version directory names, as Kubernetes' atomic writer makes them: the UTC
// time, then mkdtemp's six random characters.
constexpr char kVersionTimeFormat[] = "..%Y_%m_%d_%H_%M_%S.";
// Version directories hold files only; they are created 0700 (mkdtemp) and
// opened to this once complete, so others can read the public files.
constexpr mode_t kVersionDirMode = 0755;
// How often ReadSvidFiles starts over when the version it resolved is
// removed under it (a write finished meanwhile; each retry sees a newer one).
constexpr int kReadAttempts = 5;

mode_t ModeOf(absl::string_view name) {
  return name == kSvidKeyFile || name == kSvidKeystoreFile ? kPrivateFileMode
                                                           : kPublicFileMode;
}

std::string LinkTarget(absl::string_view name) {
  return absl::StrCat(kSvidDataLink, "/", name);
}

std::optional<std::string> ReadLinkAt(int dir_fd, absl::string_view name) {
  char buf[PATH_MAX];
  const ssize_t n =
      readlinkat(dir_fd, std::string(name).c_str(), buf, sizeof(buf));
  if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

bool IsVersionDirName(absl::string_view name) {
  return name.size() > 2 && absl::StartsWith(name, "..") &&
         absl::ascii_isdigit(static_cast<unsigned char>(name[2]));
}

// Makes `name` in `dir_fd` a symlink to `target`, atomically replacing what
// was there.
absl::Status ReplaceWithSymlink(int dir_fd, const std::string& dir,
                                absl::string_view tmp, absl::string_view name,
                                const std::string& target) {
  const std::string tmp_name(tmp);
  if (unlinkat(dir_fd, tmp_name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoError("cannot remove stale", absl::StrCat(dir, "/", tmp));
  }
  if (symlinkat(target.c_str(), dir_fd, tmp_name.c_str()) != 0) {
    return ErrnoError("cannot create symlink", absl::StrCat(dir, "/", tmp));
  }
  if (renameat(dir_fd, tmp_name.c_str(), dir_fd, std::string(name).c_str()) !=
      0) {
    absl::Status status = ErrnoError("cannot rename a symlink onto",
                                     absl::StrCat(dir, "/", name));
    unlinkat(dir_fd, tmp_name.c_str(), 0);
    return status;
  }
  return absl::OkStatus();
}

absl::Status SyncFd(int fd, const std::string& dir) {
  if (fsync(fd) != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

// Best effort: removes every version directory but `keep`, and what a crash
// may have left in them. A failure leaves garbage for the next write, never
// a reader without files.
void RemoveOldVersions(int dir_fd, absl::string_view keep) {
  unlinkat(dir_fd, std::string(kNameLinkTmp).c_str(), 0);
  std::vector<std::string> old;
  {
    const int scan_fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (scan_fd < 0) return;
    DIR* scan = fdopendir(scan_fd);  // owns scan_fd from here
    if (scan == nullptr) {
      close(scan_fd);
      return;
    }
    while (const dirent* entry = readdir(scan)) {
      if (IsVersionDirName(entry->d_name) && entry->d_name != keep) {
        old.emplace_back(entry->d_name);
      }
    }
    closedir(scan);
  }
  for (const std::string& name : old) {
    const int version_fd = openat(
        dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (version_fd < 0) continue;
    DIR* files = fdopendir(version_fd);  // owns version_fd from here
    if (files == nullptr) {
      close(version_fd);
      continue;
    }
    while (const dirent* entry = readdir(files)) {
      if (entry->d_type != DT_DIR) unlinkat(version_fd, entry->d_name, 0);
    }
    closedir(files);
    unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR);
  }
}

using Contents = std::map<absl::string_view, std::string>;

// Creates `name` in the new (still private) version directory. Created 0600,
// so a key is never readable by others; fchmod only ever widens to `mode`.
absl::Status WriteNewFile(int version_fd, const std::string& path,
                          absl::string_view name, absl::string_view data,
                          mode_t mode) {
  const UniqueFd fd(openat(version_fd, std::string(name).c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           kPrivateFileMode));
  const std::string file = absl::StrCat(path, "/", name);
  if (fd.get() < 0) return ErrnoError("cannot create", file);
  if (fchmod(fd.get(), mode) != 0) return ErrnoError("cannot chmod", file);
  while (!data.empty()) {
    const ssize_t n = write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write", file);
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (fsync(fd.get()) != 0) return ErrnoError("cannot fsync", file);
  return absl::OkStatus();
}

// Writes `contents` into a new version directory and points `..data` at it.
absl::Status Publish(int dir_fd, const std::string& dir,
                     const Contents& contents) {
  std::string path =
      absl::StrCat(dir, "/",
                   absl::FormatTime(kVersionTimeFormat, RealClock().Now(),
                                    absl::UTCTimeZone()),
                   "XXXXXX");
  if (mkdtemp(path.data()) == nullptr) {
    return ErrnoError("cannot create version directory in", dir);
  }
  const std::string version = path.substr(dir.size() + 1);
  {
    const UniqueFd version_fd(
        open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (version_fd.get() < 0) return ErrnoError("cannot open", path);
    for (const auto& [name, data] : contents) {
      RETURN_IF_ERROR(
          WriteNewFile(version_fd.get(), path, name, data, ModeOf(name)));
    }
    if (fchmod(version_fd.get(), kVersionDirMode) != 0) {
      return ErrnoError("cannot chmod", path);
    }
    RETURN_IF_ERROR(SyncFd(version_fd.get(), path));
  }
  // The version directory's entry must be on disk before `..data` can point
  // at it there.
  RETURN_IF_ERROR(SyncFd(dir_fd, dir));
  RETURN_IF_ERROR(
      ReplaceWithSymlink(dir_fd, dir, kDataLinkTmp, kSvidDataLink, version));
  RETURN_IF_ERROR(SyncFd(dir_fd, dir));
  RemoveOldVersions(dir_fd, version);
  return absl::OkStatus();
}

bool IsOurLink(int dir_fd, absl::string_view name) {
  return ReadLinkAt(dir_fd, name) == LinkTarget(name);
}

// What a reader of `name` sees now, if it is ours to keep: a regular file
// (an older layout) or our symlink into `..data`. Anything else is dropped.
absl::StatusOr<std::optional<std::string>> CurrentContents(
    int dir_fd, const std::string& dir, absl::string_view name) {
  const std::string path = absl::StrCat(dir, "/", name);
  struct stat st;
  if (fstatat(dir_fd, std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) !=
      0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoError("cannot stat", path);
  }
  if (!S_ISREG(st.st_mode) && !IsOurLink(dir_fd, name)) return std::nullopt;
  absl::StatusOr<std::string> data = ReadFile(path);
  if (absl::IsNotFound(data.status())) return std::nullopt;  // dangling link
  if (!data.ok()) return data.status();
  return *data;
}

// Brings a directory of plain files (an older Mayfly), of nothing, or of a
// half-finished migration to the symlink layout without changing what a
// reader sees. Returns whether `..data` was published with `fresh` because
// there was nothing to keep.
absl::StatusOr<bool> Migrate(int dir_fd, const std::string& dir,
                             const Contents& fresh) {
  bool migrated = PathExists(absl::StrCat(dir, "/", kSvidDataLink));
  for (absl::string_view name : kNames) {
    migrated = migrated && IsOurLink(dir_fd, name);
  }
  if (migrated) return false;
  Contents current;
  for (absl::string_view name : kNames) {
    ASSIGN_OR_RETURN(std::optional<std::string> data,
                     CurrentContents(dir_fd, dir, name));
    if (data.has_value()) current[name] = std::move(*data);
  }
  const bool use_fresh = current.empty();
  RETURN_IF_ERROR(Publish(dir_fd, dir, use_fresh ? fresh : current));
  for (absl::string_view name : kNames) {
    if (IsOurLink(dir_fd, name)) continue;
    RETURN_IF_ERROR(
        ReplaceWithSymlink(dir_fd, dir, kNameLinkTmp, name, LinkTarget(name)));
  }
  RETURN_IF_ERROR(SyncFd(dir_fd, dir));
  return use_fresh;
}

}  // namespace

absl::Status WriteSvidFiles(const std::string& dir, const CertChain& chain,
                            const EVP_PKEY& key, const CertChain& bundle) {
  if (chain.empty()) return absl::InvalidArgumentError("empty SVID chain");
  ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPkcs8Pem(key));
  std::string chain_pem = CertsToPem(chain);
  // Kafka's PEM keystore (KIP-651) wants the key and its chain in one file.
  std::string keystore_pem = absl::StrCat(key_pem, chain_pem);
  const Contents fresh = {{kSvidFile, std::move(chain_pem)},
                          {kSvidKeyFile, std::move(key_pem)},
                          {kSvidBundleFile, CertsToPem(bundle)},
                          {kSvidKeystoreFile, std::move(keystore_pem)}};
  RETURN_IF_ERROR(EnsureDir(dir, 0755));
  const UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return ErrnoError("cannot open directory", dir);
  // Released when dir_fd closes.
  if (flock(dir_fd.get(), LOCK_EX) != 0) return ErrnoError("cannot lock", dir);
  ASSIGN_OR_RETURN(const bool published, Migrate(dir_fd.get(), dir, fresh));
  if (published) return absl::OkStatus();
  return Publish(dir_fd.get(), dir, fresh);
}

absl::StatusOr<SvidFiles> ReadSvidFiles(const std::string& dir) {
  absl::Status last = absl::NotFoundError(dir);
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    // Resolve `..data` once, so all files come from one version.
    std::string base = dir;
    const std::string link = absl::StrCat(dir, "/", kSvidDataLink);
    if (char* real = realpath(link.c_str(), nullptr); real != nullptr) {
      base = real;
      free(real);
    }
    absl::StatusOr<std::string> pems[kReadNames.size()];
    last = absl::OkStatus();
    for (size_t i = 0; i < kReadNames.size(); ++i) {
      pems[i] = ReadFile(absl::StrCat(base, "/", kReadNames[i]));
      if (!pems[i].ok() && last.ok()) last = pems[i].status();
    }
    if (absl::IsNotFound(last) && base != dir) {
      continue;  // that version was removed under us; a newer one is there
    }
    RETURN_IF_ERROR(last);
    // Errors name the paths readers use, not the version directory.
    auto in = [&dir](absl::string_view name, const absl::Status& status) {
      return absl::Status(status.code(),
                          absl::StrCat(dir, "/", name, ": ", status.message()));
    };
    absl::StatusOr<CertChain> chain = CertsFromPem(*pems[0]);
    if (!chain.ok()) return in(kSvidFile, chain.status());
    absl::StatusOr<UniqueEvpPkey> key = PrivateKeyFromPem(*pems[1]);
    if (!key.ok()) return in(kSvidKeyFile, key.status());
    absl::StatusOr<CertChain> bundle = CertsFromPem(*pems[2]);
    if (!bundle.ok()) return in(kSvidBundleFile, bundle.status());
    if (!KeyMatchesCert(**key, *(*chain)[0])) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, "/", kSvidKeyFile, " does not hold the private key of ", dir,
          "/", kSvidFile));
    }
    SvidFiles files;
    files.chain = std::move(*chain);
    files.key = std::move(*key);
    files.bundle = std::move(*bundle);
    return files;
  }
  return last;
}

}  // namespace mayfly::identity
