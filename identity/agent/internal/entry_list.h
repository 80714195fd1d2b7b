// The `entries:` list as the agent config and the entries file both hold
// it: parsed by entries.cc, used by config.cc. Internal to the agent's
// config target.
#ifndef MAYFLY_IDENTITY_AGENT_INTERNAL_ENTRY_LIST_H_
#define MAYFLY_IDENTITY_AGENT_INTERNAL_ENTRY_LIST_H_

#include <yaml-cpp/yaml.h>

#include <vector>

#include "absl/status/statusor.h"
#include "identity/agent/config.h"
#include "identity/yaml_reader.h"

namespace mayfly::agent::internal {

// Each entry validated; two with the same spiffe_id and selectors are an
// error naming both lines.
absl::StatusOr<std::vector<EntryConfig>> ParseEntryList(
    const identity::YamlReader& r, const YAML::Node& node);

}  // namespace mayfly::agent::internal

#endif  // MAYFLY_IDENTITY_AGENT_INTERNAL_ENTRY_LIST_H_
