// Names of ACL parts, both spellings: see acl.h.
#include "bridge/acl.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mayfly::bridge {
namespace {

// One row per value: the policy spelling, then Kafka's.
template <typename E>
struct Names {
  E value;
  absl::string_view policy;
  absl::string_view kafka;
};

constexpr std::array<Names<ResourceType>, 4> kResourceTypes = {{
    {ResourceType::kTopic, "topic", "TOPIC"},
    {ResourceType::kGroup, "group", "GROUP"},
    {ResourceType::kCluster, "cluster", "CLUSTER"},
    {ResourceType::kTransactionalId, "transactional_id", "TRANSACTIONAL_ID"},
}};
constexpr std::array<Names<PatternType>, 2> kPatternTypes = {{
    {PatternType::kLiteral, "literal", "LITERAL"},
    {PatternType::kPrefixed, "prefixed", "PREFIXED"},
}};
constexpr std::array<Names<Operation>, 11> kOperations = {{
    {Operation::kAll, "all", "ALL"},
    {Operation::kRead, "read", "READ"},
    {Operation::kWrite, "write", "WRITE"},
    {Operation::kCreate, "create", "CREATE"},
    {Operation::kDelete, "delete", "DELETE"},
    {Operation::kAlter, "alter", "ALTER"},
    {Operation::kDescribe, "describe", "DESCRIBE"},
    {Operation::kClusterAction, "cluster_action", "CLUSTER_ACTION"},
    {Operation::kDescribeConfigs, "describe_configs", "DESCRIBE_CONFIGS"},
    {Operation::kAlterConfigs, "alter_configs", "ALTER_CONFIGS"},
    {Operation::kIdempotentWrite, "idempotent_write", "IDEMPOTENT_WRITE"},
}};
constexpr std::array<Names<Permission>, 2> kPermissions = {{
    {Permission::kAllow, "allow", "ALLOW"},
    {Permission::kDeny, "deny", "DENY"},
}};

template <typename E, size_t N>
const Names<E>& Row(const std::array<Names<E>, N>& table, E value) {
  for (const Names<E>& row : table) {
    if (row.value == value) return row;
  }
  return table[0];  // Unreachable: every enumerator has a row.
}

template <typename E, size_t N>
absl::StatusOr<E> Parse(const std::array<Names<E>, N>& table,
                        absl::string_view what, absl::string_view text) {
  for (const Names<E>& row : table) {
    if (row.policy == text) return row.value;
  }
  std::vector<absl::string_view> valid;
  for (const Names<E>& row : table) valid.push_back(row.policy);
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a ",
                                                 what, "; want one of ",
                                                 absl::StrJoin(valid, ", ")));
}

}  // namespace

absl::string_view PolicyName(ResourceType v) {
  return Row(kResourceTypes, v).policy;
}
absl::string_view PolicyName(PatternType v) {
  return Row(kPatternTypes, v).policy;
}
absl::string_view PolicyName(Operation v) { return Row(kOperations, v).policy; }
absl::string_view PolicyName(Permission v) {
  return Row(kPermissions, v).policy;
}
absl::string_view KafkaName(ResourceType v) {
  return Row(kResourceTypes, v).kafka;
}
absl::string_view KafkaName(PatternType v) {
  return Row(kPatternTypes, v).kafka;
}
absl::string_view KafkaName(Operation v) { return Row(kOperations, v).kafka; }
absl::string_view KafkaName(Permission v) { return Row(kPermissions, v).kafka; }

absl::StatusOr<ResourceType> ParseResourceType(absl::string_view text) {
  return Parse(kResourceTypes, "resource type", text);
}
absl::StatusOr<PatternType> ParsePatternType(absl::string_view text) {
  return Parse(kPatternTypes, "pattern type", text);
}
absl::StatusOr<Operation> ParseOperation(absl::string_view text) {
  return Parse(kOperations, "operation", text);
}
absl::StatusOr<Permission> ParsePermission(absl::string_view text) {
  return Parse(kPermissions, "permission", text);
}

std::string ToString(const AclBinding& b) {
  return absl::StrCat(KafkaName(b.permission), " ", b.principal, " ",
                      KafkaName(b.operation), " on ",
                      KafkaName(b.resource_type), " ", b.resource_name, " (",
                      KafkaName(b.pattern_type), ") from host ", b.host);
}

}  // namespace mayfly::bridge
