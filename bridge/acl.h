// Kafka ACL bindings as the bridge reasons about them: the policy expands its
// grants into these, and plan/apply compares them with what a cluster holds.
//
// The names are the policy file's spelling (lower case, snake_case); the
// Kafka names (TOPIC, TRANSACTIONAL_ID, IDEMPOTENT_WRITE) are what the admin
// API and `kafka-acls` use. A binding is a plain value: comparable, hashable,
// ordered, so a set of them diffs exactly.
#ifndef MAYFLY_BRIDGE_ACL_H_
#define MAYFLY_BRIDGE_ACL_H_

#include <ostream>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::bridge {

enum class ResourceType { kTopic, kGroup, kCluster, kTransactionalId };
enum class PatternType { kLiteral, kPrefixed };
enum class Operation {
  kAll,
  kRead,
  kWrite,
  kCreate,
  kDelete,
  kAlter,
  kDescribe,
  kClusterAction,
  kDescribeConfigs,
  kAlterConfigs,
  kIdempotentWrite,
};
enum class Permission { kAllow, kDeny };

// Kafka's only name for the cluster resource.
inline constexpr absl::string_view kClusterResourceName = "kafka-cluster";
// The only host the policy grants for: Kafka ACLs by client IP are no
// identity, and SPIFFE IDs are the identity here.
inline constexpr absl::string_view kAnyHost = "*";

// Policy spelling: "topic", "literal", "describe_configs", "allow".
absl::string_view PolicyName(ResourceType type);
absl::string_view PolicyName(PatternType type);
absl::string_view PolicyName(Operation op);
absl::string_view PolicyName(Permission permission);
// Kafka spelling: "TOPIC", "LITERAL", "DESCRIBE_CONFIGS", "ALLOW".
absl::string_view KafkaName(ResourceType type);
absl::string_view KafkaName(PatternType type);
absl::string_view KafkaName(Operation op);
absl::string_view KafkaName(Permission permission);

// Parse the policy spelling; errors name the word and list the valid ones.
absl::StatusOr<ResourceType> ParseResourceType(absl::string_view text);
absl::StatusOr<PatternType> ParsePatternType(absl::string_view text);
absl::StatusOr<Operation> ParseOperation(absl::string_view text);
absl::StatusOr<Permission> ParsePermission(absl::string_view text);

struct AclBinding {
  std::string principal;  // "User:orders.writer"
  std::string host = std::string(kAnyHost);
  ResourceType resource_type = ResourceType::kTopic;
  std::string resource_name;
  PatternType pattern_type = PatternType::kLiteral;
  Operation operation = Operation::kAll;
  Permission permission = Permission::kAllow;

  auto Tie() const {
    return std::tie(principal, host, resource_type, resource_name, pattern_type,
                    operation, permission);
  }
  friend bool operator==(const AclBinding& a, const AclBinding& b) {
    return a.Tie() == b.Tie();
  }
  friend bool operator!=(const AclBinding& a, const AclBinding& b) {
    return !(a == b);
  }
  friend bool operator<(const AclBinding& a, const AclBinding& b) {
    return a.Tie() < b.Tie();
  }
  template <typename H>
  friend H AbslHashValue(H h, const AclBinding& b) {
    return H::combine(std::move(h), b.principal, b.host, b.resource_type,
                      b.resource_name, b.pattern_type, b.operation,
                      b.permission);
  }
};

// One line, as plan prints it:
//   "ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) from host *"
std::string ToString(const AclBinding& binding);
inline std::ostream& operator<<(std::ostream& os, const AclBinding& b) {
  return os << ToString(b);
}

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_ACL_H_
