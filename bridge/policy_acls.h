// The `acls` section of a policy, for bridge/policy.cc only: grants read
// from YAML and expanded to one AclBinding per operation.
//
//   acls:
//     - principal: User:orders.writer          # required, owned by the policy
//       resource: {type: topic, name: orders, pattern: literal}
//       operations: [write, describe]          # required, not empty
//       permission: allow                      # allow (default) or deny
//       host: "*"                              # only "*" (the default)
//
// Which operations a resource type takes is Kafka's own table (the ones
// AclEntry.supportedOperations lists); the cluster resource is always named
// kafka-cluster, so its name may be left out.
#ifndef MAYFLY_BRIDGE_POLICY_ACLS_H_
#define MAYFLY_BRIDGE_POLICY_ACLS_H_

#include <yaml-cpp/yaml.h>

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/acl.h"
#include "identity/yaml_reader.h"

namespace mayfly::bridge::internal {

// Whether Kafka accepts `op` on `type`.
bool OperationValidFor(ResourceType type, Operation op);

// Reads `node` (the value of `acls`). `owns` says whether the policy maps
// some ID to a principal; a grant for any other principal is an error.
// Returns the bindings sorted, without duplicates.
absl::StatusOr<std::vector<AclBinding>> ParseAcls(
    const identity::YamlReader& r, const YAML::Node& node,
    const std::function<bool(absl::string_view)>& owns);

}  // namespace mayfly::bridge::internal

#endif  // MAYFLY_BRIDGE_POLICY_ACLS_H_
