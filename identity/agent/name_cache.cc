// The attestor's uid/gid name cache: see name_cache.h.
#include "identity/agent/name_cache.h"

namespace mayfly::agent {

std::optional<std::string> NameCache::Get(uint32_t id) {
  const absl::Duration now = clock_.Monotonic();
  {
    absl::MutexLock lock(&mu_);
    auto it = names_.find(id);
    if (it != names_.end() && it->second.expires > now) return it->second.name;
  }
  std::optional<std::string> name = look_up_(id);
  absl::MutexLock lock(&mu_);
  if (names_.size() >= kMaxCachedNames) names_.clear();
  names_[id] = Cached{name, now + kNameCacheTtl};
  return name;
}

}  // namespace mayfly::agent
