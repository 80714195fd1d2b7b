// Conversions for the librdkafka admin client: see
// kafka_admin_rdkafka_convert.h.
#include "bridge/kafka_admin_rdkafka_convert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::bridge::rdkafka_internal {
namespace {

absl::StatusOr<rd_kafka_ResourceType_t> ToRd(ResourceType t) {
  switch (t) {
    case ResourceType::kTopic:
      return RD_KAFKA_RESOURCE_TOPIC;
    case ResourceType::kGroup:
      return RD_KAFKA_RESOURCE_GROUP;
    case ResourceType::kCluster:
      // Kafka's ACL resource CLUSTER is 4, librdkafka's BROKER.
      return RD_KAFKA_RESOURCE_BROKER;
    case ResourceType::kTransactionalId:
      break;
  }
  return absl::UnimplementedError(
      "librdkafka 2.0.2 cannot express ACLs on TRANSACTIONAL_ID resources");
}

std::optional<ResourceType> FromRd(rd_kafka_ResourceType_t t) {
  switch (t) {
    case RD_KAFKA_RESOURCE_TOPIC:
      return ResourceType::kTopic;
    case RD_KAFKA_RESOURCE_GROUP:
      return ResourceType::kGroup;
    case RD_KAFKA_RESOURCE_BROKER:
      return ResourceType::kCluster;
    default:
      return std::nullopt;
  }
}

rd_kafka_ResourcePatternType_t ToRd(PatternType p) {
  return p == PatternType::kLiteral ? RD_KAFKA_RESOURCE_PATTERN_LITERAL
                                    : RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
}

rd_kafka_AclPermissionType_t ToRd(Permission p) {
  return p == Permission::kAllow ? RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW
                                 : RD_KAFKA_ACL_PERMISSION_TYPE_DENY;
}

// Operation and librdkafka's code, in Kafka's protocol order.
constexpr std::pair<Operation, rd_kafka_AclOperation_t> kOperations[] = {
    {Operation::kAll, RD_KAFKA_ACL_OPERATION_ALL},
    {Operation::kRead, RD_KAFKA_ACL_OPERATION_READ},
    {Operation::kWrite, RD_KAFKA_ACL_OPERATION_WRITE},
    {Operation::kCreate, RD_KAFKA_ACL_OPERATION_CREATE},
    {Operation::kDelete, RD_KAFKA_ACL_OPERATION_DELETE},
    {Operation::kAlter, RD_KAFKA_ACL_OPERATION_ALTER},
    {Operation::kDescribe, RD_KAFKA_ACL_OPERATION_DESCRIBE},
    {Operation::kClusterAction, RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION},
    {Operation::kDescribeConfigs, RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS},
    {Operation::kAlterConfigs, RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS},
    {Operation::kIdempotentWrite, RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE},
};

rd_kafka_AclOperation_t ToRd(Operation op) {
  for (const auto& [ours, rd] : kOperations) {
    if (ours == op) return rd;
  }
  return RD_KAFKA_ACL_OPERATION_UNKNOWN;  // Unreachable: every op has a row.
}

}  // namespace

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view detail) {
  const std::string message =
      absl::StrCat(rd_kafka_err2name(err), ": ", detail);
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::OkStatus();
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return absl::PermissionDeniedError(message);
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return absl::UnavailableError(message);
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
      return absl::FailedPreconditionError(message);
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnknownError(message);
  }
}

absl::Status KafkaError(const rd_kafka_error_t* error) {
  if (error == nullptr) return absl::OkStatus();
  return KafkaError(rd_kafka_error_code(error), rd_kafka_error_string(error));
}

std::optional<AclBinding> FromRd(const rd_kafka_AclBinding_t& acl) {
  AclBinding b;
  std::optional<ResourceType> type = FromRd(rd_kafka_AclBinding_restype(&acl));
  if (!type) return std::nullopt;
  b.resource_type = *type;
  switch (rd_kafka_AclBinding_resource_pattern_type(&acl)) {
    case RD_KAFKA_RESOURCE_PATTERN_LITERAL:
      b.pattern_type = PatternType::kLiteral;
      break;
    case RD_KAFKA_RESOURCE_PATTERN_PREFIXED:
      b.pattern_type = PatternType::kPrefixed;
      break;
    default:
      return std::nullopt;
  }
  const rd_kafka_AclOperation_t op = rd_kafka_AclBinding_operation(&acl);
  bool known_op = false;
  for (const auto& [ours, rd] : kOperations) {
    if (rd == op) {
      b.operation = ours;
      known_op = true;
    }
  }
  if (!known_op) return std::nullopt;
  switch (rd_kafka_AclBinding_permission_type(&acl)) {
    case RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW:
      b.permission = Permission::kAllow;
      break;
    case RD_KAFKA_ACL_PERMISSION_TYPE_DENY:
      b.permission = Permission::kDeny;
      break;
    default:
      return std::nullopt;
  }
  const char* name = rd_kafka_AclBinding_name(&acl);
  const char* principal = rd_kafka_AclBinding_principal(&acl);
  const char* host = rd_kafka_AclBinding_host(&acl);
  b.resource_name = name ? name : "";
  b.principal = principal ? principal : "";
  b.host = host ? host : "";
  return b;
}

absl::StatusOr<UniqueAclBinding> ToRd(const AclBinding& b, bool filter) {
  ASSIGN_OR_RETURN(rd_kafka_ResourceType_t type, ToRd(b.resource_type));
  char errstr[512] = "";
  auto make = filter ? rd_kafka_AclBindingFilter_new : rd_kafka_AclBinding_new;
  UniqueAclBinding out(make(type, b.resource_name.c_str(), ToRd(b.pattern_type),
                            b.principal.c_str(), b.host.c_str(),
                            ToRd(b.operation), ToRd(b.permission), errstr,
                            sizeof errstr));
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("librdkafka refuses ", ToString(b), ": ", errstr));
  }
  return out;
}

OpaqueAcl Opaque(const rd_kafka_AclBinding_t& acl) {
  auto text = [](const char* s) { return s != nullptr ? s : ""; };
  const std::string principal = text(rd_kafka_AclBinding_principal(&acl));
  return {
      principal,
      absl::StrCat(
          rd_kafka_AclPermissionType_name(
              rd_kafka_AclBinding_permission_type(&acl)),
          " ", principal, " ",
          rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(&acl)),
          " on ", rd_kafka_ResourceType_name(rd_kafka_AclBinding_restype(&acl)),
          " ", text(rd_kafka_AclBinding_name(&acl)), " (",
          rd_kafka_ResourcePatternType_name(
              rd_kafka_AclBinding_resource_pattern_type(&acl)),
          ") from host ", text(rd_kafka_AclBinding_host(&acl)))};
}

BrokerConfigEntry FromRd(const rd_kafka_ConfigEntry_t& e) {
  BrokerConfigEntry out;
  out.name = rd_kafka_ConfigEntry_name(&e);
  if (const char* value = rd_kafka_ConfigEntry_value(&e)) out.value = value;
  out.source = static_cast<ConfigSource>(rd_kafka_ConfigEntry_source(&e));
  out.sensitive = rd_kafka_ConfigEntry_is_sensitive(&e) == 1;
  out.read_only = rd_kafka_ConfigEntry_is_read_only(&e) == 1;
  return out;
}

}  // namespace mayfly::bridge::rdkafka_internal
