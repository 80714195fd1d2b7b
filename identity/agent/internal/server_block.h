// The `server:` block of the agent config (server mode): parsed by
// server_block.cc, used by config.cc. Internal to the agent's config target.
#ifndef MAYFLY_IDENTITY_AGENT_INTERNAL_SERVER_BLOCK_H_
#define MAYFLY_IDENTITY_AGENT_INTERNAL_SERVER_BLOCK_H_

#include <yaml-cpp/yaml.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/agent/config.h"
#include "identity/yaml_reader.h"

namespace mayfly::agent::internal {

// Every rule of ServerConfig (config.h), each error "FILE:LINE: server.KEY:
// ...". Relative paths are resolved against `base_dir`.
absl::StatusOr<ServerConfig> ParseServerBlock(const identity::YamlReader& r,
                                              const YAML::Node& node,
                                              absl::string_view base_dir);

}  // namespace mayfly::agent::internal

#endif  // MAYFLY_IDENTITY_AGENT_INTERNAL_SERVER_BLOCK_H_
