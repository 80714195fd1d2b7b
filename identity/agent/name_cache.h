// uid or gid to name, cached for a while.
//
// getpwuid_r/getgrgid_r read /etc/passwd and /etc/group (or ask a directory
// service) on every call, so the attestor keeps each name for kNameCacheTtl.
// The age of an entry is measured on the clock's monotonic reading: a wall
// clock stepped back an hour must not keep a renamed user's old name for an
// hour, and one stepped forward must not empty the cache.
//
// Thread-safe. The look-up runs unlocked, so a slow directory service holds
// up only the callers whose names are not cached.
#ifndef MAYFLY_IDENTITY_AGENT_NAME_CACHE_H_
#define MAYFLY_IDENTITY_AGENT_NAME_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/clock.h"

namespace mayfly::agent {

// A renamed user or group shows up in selectors within this long.
inline constexpr absl::Duration kNameCacheTtl = absl::Seconds(30);
// Bounds the cache against a caller that cycles through uids; it is emptied
// when full, which costs only look-ups.
inline constexpr size_t kMaxCachedNames = 65536;

class NameCache {
 public:
  // The name of `id`, or nullopt when it has none.
  using LookUp = std::function<std::optional<std::string>(uint32_t id)>;

  NameCache(LookUp look_up, const identity::Clock& clock)
      : look_up_(std::move(look_up)), clock_(clock) {}

  std::optional<std::string> Get(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Cached {
    std::optional<std::string> name;
    absl::Duration expires;  // on clock_.Monotonic()
  };
  const LookUp look_up_;
  const identity::Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Cached> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_NAME_CACHE_H_
