// The server-mode agent's state on disk: its key and agent SVID, the last
// SyncResponse (entries and bundle), and every SVID it holds.
//
// Everything lives in STATE_DIR/server (0700), one file per item (0600),
// each written atomically (identity/file_util.h): a kill -9 at any moment
// leaves every file whole, old or new. SVID files are named by entry ID,
// which the server makes 32 hex digits; another ID is never a file name.
//
// Thread-compatible: the agent writes from its sync thread and its loop,
// under its own lock.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_STATE_CACHE_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_STATE_CACHE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/agent/remote/cache.pb.h"
#include "identity/server/proto/server.pb.h"

namespace mayfly::agent::remote {

namespace cachepb = ::mayfly::agent::cache::v1;

class StateCache {
 public:
  // Creates STATE_DIR/server if needed (0700, a trusted directory).
  static absl::StatusOr<std::unique_ptr<StateCache>> Open(
      const std::string& state_dir);

  absl::Status SaveAgent(const cachepb::AgentIdentity& agent) const;
  // NotFound when there is none yet.
  absl::StatusOr<cachepb::AgentIdentity> LoadAgent() const;

  absl::Status SaveSync(const server::v1::SyncResponse& sync) const;
  absl::StatusOr<server::v1::SyncResponse> LoadSync() const;

  // InvalidArgument for an entry ID that is not lowercase hex.
  absl::Status SaveSvid(const cachepb::CachedSvid& svid) const;
  absl::Status RemoveSvid(absl::string_view entry_id) const;
  // Every readable SVID file; unreadable ones are skipped.
  std::vector<cachepb::CachedSvid> LoadSvids() const;

  // Forgets every SVID and the agent SVID (an evicted agent).
  absl::Status Clear() const;

  const std::string& dir() const { return dir_; }

 private:
  explicit StateCache(std::string dir) : dir_(std::move(dir)) {}
  std::string SvidPath(absl::string_view entry_id) const;

  const std::string dir_;
};

// Whether `entry_id` is what the server assigns: 1 to 64 lowercase hex
// digits.
bool ValidEntryId(absl::string_view entry_id);

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_STATE_CACHE_H_
