// The server-mode agent's state on disk: see state_cache.h.
#include "identity/agent/remote/state_cache.h"

#include <dirent.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::agent::remote {
namespace {

constexpr char kAgentFile[] = "/agent.pb";
constexpr char kSyncFile[] = "/sync.pb";
constexpr char kSvidDir[] = "/svids";
constexpr char kSvidSuffix[] = ".pb";
// An entry ID is 32 hex digits today; this leaves room, and no more.
constexpr size_t kMaxEntryIdLength = 64;

template <typename Message>
absl::Status Save(const std::string& path, const Message& message) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    return absl::InternalError(absl::StrCat("cannot encode ", path));
  }
  return identity::WriteFileAtomically(path, bytes, identity::kPrivateFileMode);
}

template <typename Message>
absl::StatusOr<Message> Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, identity::ReadFile(path));
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid cache file"));
  }
  return message;
}

absl::Status Unlink(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return identity::ErrnoError("unlink", path);
  }
  return absl::OkStatus();
}

}  // namespace

bool ValidEntryId(absl::string_view entry_id) {
  return !entry_id.empty() && entry_id.size() <= kMaxEntryIdLength &&
         entry_id.find_first_not_of("0123456789abcdef") ==
             absl::string_view::npos;
}

absl::StatusOr<std::unique_ptr<StateCache>> StateCache::Open(
    const std::string& state_dir) {
  const std::string dir = state_dir + "/server";
  RETURN_IF_ERROR(identity::EnsurePrivateDir(dir));
  RETURN_IF_ERROR(identity::EnsurePrivateDir(dir + kSvidDir));
  return std::unique_ptr<StateCache>(new StateCache(dir));
}

std::string StateCache::SvidPath(absl::string_view entry_id) const {
  return absl::StrCat(dir_, kSvidDir, "/", entry_id, kSvidSuffix);
}

absl::Status StateCache::SaveAgent(const cachepb::AgentIdentity& agent) const {
  return Save(dir_ + kAgentFile, agent);
}

absl::StatusOr<cachepb::AgentIdentity> StateCache::LoadAgent() const {
  return Load<cachepb::AgentIdentity>(dir_ + kAgentFile);
}

absl::Status StateCache::SaveSync(const server::v1::SyncResponse& sync) const {
  return Save(dir_ + kSyncFile, sync);
}

absl::StatusOr<server::v1::SyncResponse> StateCache::LoadSync() const {
  return Load<server::v1::SyncResponse>(dir_ + kSyncFile);
}

absl::Status StateCache::SaveSvid(const cachepb::CachedSvid& svid) const {
  if (!ValidEntryId(svid.entry_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry ID \"", svid.entry_id(), "\" is not hex"));
  }
  return Save(SvidPath(svid.entry_id()), svid);
}

absl::Status StateCache::RemoveSvid(absl::string_view entry_id) const {
  if (!ValidEntryId(entry_id)) return absl::OkStatus();
  return Unlink(SvidPath(entry_id));
}

std::vector<cachepb::CachedSvid> StateCache::LoadSvids() const {
  std::vector<cachepb::CachedSvid> out;
  DIR* dir = opendir((dir_ + kSvidDir).c_str());
  if (dir == nullptr) return out;
  while (const dirent* ent = readdir(dir)) {
    const absl::string_view name = ent->d_name;
    if (!absl::EndsWith(name, kSvidSuffix)) continue;  // temporaries too
    const absl::string_view id =
        name.substr(0, name.size() - (sizeof(kSvidSuffix) - 1));
    if (!ValidEntryId(id)) continue;
    absl::StatusOr<cachepb::CachedSvid> svid =
        Load<cachepb::CachedSvid>(SvidPath(id));
    if (svid.ok() && svid->entry_id() == id) out.push_back(*std::move(svid));
  }
  closedir(dir);
  return out;
}

absl::Status StateCache::Clear() const {
  for (const cachepb::CachedSvid& svid : LoadSvids()) {
    RETURN_IF_ERROR(RemoveSvid(svid.entry_id()));
  }
  RETURN_IF_ERROR(Unlink(dir_ + kAgentFile));
  return identity::SyncParentDir(dir_ + kAgentFile);
}

}  // namespace mayfly::agent::remote
