// Unix workload attestation: from a caller's kernel credentials to the
// selectors that registration entries are matched against.
//
// The selectors are SPIRE's Unix workload attestor's: unix:uid, unix:user,
// unix:gid, unix:group, unix:supplementary_gid, unix:supplementary_group,
// unix:path and unix:sha256. uid and gid come from SO_PEERCRED; the
// executable, its hash and the groups from /proc, read at call time, so a
// process that execs another binary after connecting is attested as that
// binary. Nothing the caller sends is used.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_ATTESTOR_H_
#define MAYFLY_IDENTITY_AGENT_ATTESTOR_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/name_cache.h"
#include "identity/agent/process.h"
#include "identity/clock.h"

namespace mayfly::agent {

struct WorkloadAttributes {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<std::string> user;   // absent when the uid has no name
  std::optional<std::string> group;  // absent when the gid has no name
  std::vector<gid_t> supplementary_gids;
  std::vector<std::string> supplementary_groups;  // those that have names
  std::optional<std::string> path;    // absent when /proc/PID/exe is unreadable
  std::optional<std::string> sha256;  // absent too when over the size limit

  // "unix:KIND:VALUE" strings, sorted and without duplicates.
  std::vector<std::string> Selectors() const;
};

class UnixAttestor {
 public:
  // Executables larger than `max_hash_bytes` get no unix:sha256 selector:
  // hashing a multi-gigabyte file on every call would let one workload stall
  // the agent.
  //
  // User and group names are cached on `clock` (see name_cache.h).
  UnixAttestor(int64_t max_hash_bytes, const identity::Clock& clock);

  // PermissionDenied if the process changed its effective uid or gid since
  // connecting (what SO_PEERCRED says is then no longer who is calling);
  // NotFound if it exited or its pid was reused while being read.
  absl::StatusOr<WorkloadAttributes> Attest(const PeerCredentials& peer,
                                            const ProcessRef& process)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // An executable file as it was hashed; a file rewritten in place changes
  // its mtime/ctime, so a stale hash is never served.
  using FileKey = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;

  absl::StatusOr<std::optional<std::string>> HashExecutable(pid_t pid)
      ABSL_LOCKS_EXCLUDED(mu_);

  const int64_t max_hash_bytes_;
  absl::Mutex mu_;
  absl::flat_hash_map<FileKey, std::string> hash_cache_ ABSL_GUARDED_BY(mu_);
  NameCache users_;
  NameCache groups_;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_ATTESTOR_H_
