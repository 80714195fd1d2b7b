// Unix attestation from SO_PEERCRED and /proc: see attestor.h.
#include "identity/agent/attestor.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// Distinct executables on one node are few; the bound only stops a workload
// that keeps rewriting its binary from growing the cache without end.
constexpr size_t kMaxCachedHashes = 4096;
constexpr size_t kReadChunk = 1 << 16;
// getpwuid_r/getgrgid_r buffers; NSS returns ERANGE and we grow to this.
constexpr size_t kMaxNssBuffer = 1 << 20;

// getpwuid_r or getgrgid_r, growing the buffer while NSS says ERANGE.
template <typename Entry>
std::optional<std::string> LookUpName(uint32_t id,
                                      int (*get)(uint32_t, Entry*, char*,
                                                 size_t, Entry**),
                                      char* Entry::*name) {
  std::vector<char> buf(4096);
  while (buf.size() <= kMaxNssBuffer) {
    Entry entry;
    Entry* result = nullptr;
    const int rc = get(id, &entry, buf.data(), buf.size(), &result);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || result == nullptr) return std::nullopt;
    return std::string(entry.*name);
  }
  return std::nullopt;
}

std::optional<std::string> LookUpUserName(uint32_t uid) {
  return LookUpName<passwd>(uid, &getpwuid_r, &passwd::pw_name);
}

std::optional<std::string> LookUpGroupName(uint32_t gid) {
  return LookUpName<group>(gid, &getgrgid_r, &group::gr_name);
}

struct ProcStatus {
  uid_t effective_uid = 0;
  gid_t effective_gid = 0;
  std::vector<gid_t> groups;
};

// "Uid:\treal\teffective\tsaved\tfs": the effective id is the second.
absl::StatusOr<uint32_t> EffectiveId(absl::string_view line) {
  std::vector<absl::string_view> ids =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  uint32_t id = 0;
  if (ids.size() < 2 || !absl::SimpleAtoi(ids[1], &id)) {
    return absl::InternalError(absl::StrCat("bad ids line \"", line, "\""));
  }
  return id;
}

absl::StatusOr<ProcStatus> ReadProcStatus(pid_t pid) {
  auto text = identity::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  }
  ProcStatus status;
  bool saw_uid = false, saw_gid = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "Uid:")) {
      ASSIGN_OR_RETURN(status.effective_uid, EffectiveId(line));
      saw_uid = true;
    } else if (absl::ConsumePrefix(&line, "Gid:")) {
      ASSIGN_OR_RETURN(status.effective_gid, EffectiveId(line));
      saw_gid = true;
    } else if (absl::ConsumePrefix(&line, "Groups:")) {
      for (absl::string_view g :
           absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
        gid_t gid = 0;
        if (!absl::SimpleAtoi(g, &gid)) {
          return absl::InternalError(absl::StrCat("bad group \"", g, "\""));
        }
        status.groups.push_back(gid);
      }
    }
  }
  if (!saw_uid || !saw_gid) {
    return absl::InternalError(
        absl::StrCat("/proc/", pid, "/status has no Uid/Gid"));
  }
  return status;
}

}  // namespace

std::vector<std::string> WorkloadAttributes::Selectors() const {
  std::vector<std::string> out = {absl::StrCat("unix:uid:", uid),
                                  absl::StrCat("unix:gid:", gid)};
  if (user) out.push_back(absl::StrCat("unix:user:", *user));
  if (group) out.push_back(absl::StrCat("unix:group:", *group));
  for (gid_t g : supplementary_gids) {
    out.push_back(absl::StrCat("unix:supplementary_gid:", g));
  }
  for (const std::string& g : supplementary_groups) {
    out.push_back(absl::StrCat("unix:supplementary_group:", g));
  }
  if (path) out.push_back(absl::StrCat("unix:path:", *path));
  if (sha256) out.push_back(absl::StrCat("unix:sha256:", *sha256));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

UnixAttestor::UnixAttestor(int64_t max_hash_bytes, const identity::Clock& clock)
    : max_hash_bytes_(max_hash_bytes),
      users_(&LookUpUserName, clock),
      groups_(&LookUpGroupName, clock) {}

absl::StatusOr<WorkloadAttributes> UnixAttestor::Attest(
    const PeerCredentials& peer, const ProcessRef& process) {
  if (process.pid() != peer.pid) {
    return absl::InternalError("process handle is for another pid");
  }
  WorkloadAttributes out;
  out.pid = peer.pid;
  out.uid = peer.uid;
  out.gid = peer.gid;

  ASSIGN_OR_RETURN(ProcStatus status, ReadProcStatus(peer.pid));
  if (status.effective_uid != peer.uid || status.effective_gid != peer.gid) {
    return absl::PermissionDeniedError(
        absl::StrCat("process ", peer.pid, " runs as uid ",
                     status.effective_uid, " gid ", status.effective_gid,
                     " but connected as uid ", peer.uid, " gid ", peer.gid));
  }
  out.supplementary_gids = std::move(status.groups);
  std::sort(out.supplementary_gids.begin(), out.supplementary_gids.end());

  // An unreadable /proc/PID/exe (a process of another user when the agent is
  // not root, a kernel thread) leaves path and sha256 unset: entries that
  // need them do not match, and nothing else is lost.
  char exe[PATH_MAX + 1];
  const ssize_t n =
      readlink(absl::StrCat("/proc/", peer.pid, "/exe").c_str(), exe, PATH_MAX);
  if (n > 0) {
    out.path = std::string(exe, static_cast<size_t>(n));
    ASSIGN_OR_RETURN(out.sha256, HashExecutable(peer.pid));
  }

  // Only now is it known that everything above was read from this process.
  RETURN_IF_ERROR(process.CheckAlive());

  out.user = users_.Get(out.uid);
  out.group = groups_.Get(out.gid);
  for (gid_t g : out.supplementary_gids) {
    if (auto name = groups_.Get(g)) out.supplementary_groups.push_back(*name);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> UnixAttestor::HashExecutable(
    pid_t pid) {
  // Opening /proc/PID/exe opens the very inode the process runs, even if its
  // path was since replaced or deleted.
  const int fd =
      open(absl::StrCat("/proc/", pid, "/exe").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::optional<std::string>();
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > max_hash_bytes_) {
    close(fd);
    return std::optional<std::string>();
  }
  const FileKey key{st.st_dev, st.st_ino, st.st_size,
                    st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                    st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  {
    absl::MutexLock lock(&mu_);
    auto it = hash_cache_.find(key);
    if (it != hash_cache_.end()) {
      close(fd);
      return std::optional<std::string>(it->second);
    }
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(kReadChunk);
  int64_t total = 0;
  while (ok) {
    const ssize_t got = read(fd, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      ok = got == 0;
      break;
    }
    total += got;
    ok = total <= max_hash_bytes_ && EVP_DigestUpdate(ctx, buf.data(), got);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  close(fd);
  if (!ok) return std::optional<std::string>();
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), len));
  absl::MutexLock lock(&mu_);
  if (hash_cache_.size() >= kMaxCachedHashes) hash_cache_.clear();
  hash_cache_.emplace(key, hex);
  return std::optional<std::string>(std::move(hex));
}

}  // namespace mayfly::agent
