// Policy grants to ACL bindings: see policy_acls.h.
#include "bridge/policy_acls.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/policy_rule.h"
#include "identity/status_macros.h"

namespace mayfly::bridge::internal {
namespace {

using identity::YamlReader;

// Kafka's AclEntry.supportedOperations, per resource type (ALL is valid on
// every type). Anything else is refused by the broker, so it is refused
// here, at load, with the file and line.
std::vector<Operation> SupportedOperations(ResourceType type) {
  switch (type) {
    case ResourceType::kTopic:
      return {Operation::kRead,
              Operation::kWrite,
              Operation::kCreate,
              Operation::kDelete,
              Operation::kAlter,
              Operation::kDescribe,
              Operation::kDescribeConfigs,
              Operation::kAlterConfigs,
              Operation::kAll};
    case ResourceType::kGroup:
      return {Operation::kRead, Operation::kDescribe, Operation::kDelete,
              Operation::kAll};
    case ResourceType::kCluster:
      return {Operation::kCreate,          Operation::kClusterAction,
              Operation::kDescribeConfigs, Operation::kAlterConfigs,
              Operation::kIdempotentWrite, Operation::kAlter,
              Operation::kDescribe,        Operation::kAll};
    case ResourceType::kTransactionalId:
      return {Operation::kDescribe, Operation::kWrite, Operation::kAll};
  }
  return {};
}

struct Resource {
  ResourceType type = ResourceType::kTopic;
  std::string name;
  PatternType pattern = PatternType::kLiteral;
};

// A word of a fixed vocabulary (acl.h's Parse* functions), with the error
// placed at its node.
template <typename T>
absl::StatusOr<T> Word(const YamlReader& r, const YAML::Node& node,
                       const std::string& field,
                       absl::StatusOr<T> (*parse)(absl::string_view)) {
  ASSIGN_OR_RETURN(std::string text, r.String(node, field));
  absl::StatusOr<T> value = parse(text);
  if (!value.ok()) return r.Error(node, field, value.status().message());
  return *value;
}

absl::StatusOr<Resource> ParseResource(const YamlReader& r,
                                       const YAML::Node& node,
                                       const std::string& field) {
  RETURN_IF_ERROR(r.CheckKeys(node, field, {"type", "name", "pattern"}));
  if (!node["type"]) return r.Error(node, field, "type is required");
  Resource out;
  ASSIGN_OR_RETURN(out.type,
                   Word(r, node["type"], field + ".type", &ParseResourceType));
  if (node["pattern"]) {
    ASSIGN_OR_RETURN(out.pattern, Word(r, node["pattern"], field + ".pattern",
                                       &ParsePatternType));
  }
  if (node["name"]) {
    ASSIGN_OR_RETURN(out.name, r.String(node["name"], field + ".name"));
    if (out.name.empty()) {
      return r.Error(node["name"], field + ".name", "must not be empty");
    }
  } else if (out.type != ResourceType::kCluster) {
    return r.Error(node, field, "name is required");
  }
  if (out.type == ResourceType::kCluster) {
    if (!out.name.empty() && out.name != kClusterResourceName) {
      return r.Error(node["name"], field + ".name",
                     absl::StrCat("\"", out.name,
                                  "\": the cluster resource "
                                  "is always named ",
                                  kClusterResourceName));
    }
    if (out.pattern != PatternType::kLiteral) {
      return r.Error(node["pattern"], field + ".pattern",
                     "the cluster resource is named literally");
    }
    out.name = std::string(kClusterResourceName);
  }
  return out;
}

absl::Status ParseGrant(const YamlReader& r, const YAML::Node& node,
                        const std::string& field,
                        const std::function<bool(absl::string_view)>& owns,
                        std::vector<AclBinding>& out) {
  RETURN_IF_ERROR(r.CheckKeys(
      node, field,
      {"principal", "resource", "operations", "permission", "host"}));
  for (const char* key : {"principal", "resource", "operations"}) {
    if (!node[key]) {
      return r.Error(node, field, absl::StrCat(key, " is required"));
    }
  }
  const std::string principal_field = field + ".principal";
  ASSIGN_OR_RETURN(std::string principal,
                   r.String(node["principal"], principal_field));
  if (absl::Status s = CheckPrincipal(principal); !s.ok()) {
    return r.Error(node["principal"], principal_field, s.message());
  }
  if (!owns(principal)) {
    return r.Error(
        node["principal"], principal_field,
        absl::StrCat("no rule in principals maps an ID to \"", principal,
                     "\", so the policy would not own its ACLs "
                     "(plan and apply manage only the principals "
                     "the policy maps to)"));
  }
  ASSIGN_OR_RETURN(Resource resource,
                   ParseResource(r, node["resource"], field + ".resource"));
  Permission permission = Permission::kAllow;
  if (node["permission"]) {
    ASSIGN_OR_RETURN(permission, Word(r, node["permission"],
                                      field + ".permission", &ParsePermission));
  }
  if (node["host"]) {
    ASSIGN_OR_RETURN(std::string host, r.String(node["host"], field + ".host"));
    if (host != kAnyHost) {
      return r.Error(node["host"], field + ".host",
                     absl::StrCat("\"", host,
                                  "\": only \"*\"; a client address is no "
                                  "identity, the SPIFFE ID is"));
    }
  }
  const std::string ops_field = field + ".operations";
  if (!node["operations"].IsSequence() || node["operations"].size() == 0) {
    return r.Error(node["operations"], ops_field,
                   "want a list of one or more operations");
  }
  const std::vector<Operation> supported = SupportedOperations(resource.type);
  for (size_t i = 0; i < node["operations"].size(); ++i) {
    const YAML::Node op_node = node["operations"][i];
    const std::string op_field = absl::StrCat(ops_field, "[", i, "]");
    ASSIGN_OR_RETURN(Operation op, Word(r, op_node, op_field, &ParseOperation));
    if (!OperationValidFor(resource.type, op)) {
      std::vector<absl::string_view> names;
      for (Operation s : supported) names.push_back(PolicyName(s));
      return r.Error(op_node, op_field,
                     absl::StrCat(PolicyName(op), " is not an operation on a ",
                                  PolicyName(resource.type), " (valid: ",
                                  absl::StrJoin(names, ", "), ")"));
    }
    AclBinding binding;
    binding.principal = principal;
    binding.resource_type = resource.type;
    binding.resource_name = resource.name;
    binding.pattern_type = resource.pattern;
    binding.operation = op;
    binding.permission = permission;
    out.push_back(std::move(binding));
  }
  return absl::OkStatus();
}

}  // namespace

bool OperationValidFor(ResourceType type, Operation op) {
  const std::vector<Operation> supported = SupportedOperations(type);
  return std::find(supported.begin(), supported.end(), op) != supported.end();
}

absl::StatusOr<std::vector<AclBinding>> ParseAcls(
    const YamlReader& r, const YAML::Node& node,
    const std::function<bool(absl::string_view)>& owns) {
  if (!node.IsSequence()) return r.Error(node, "acls", "want a list");
  std::vector<AclBinding> out;
  for (size_t i = 0; i < node.size(); ++i) {
    RETURN_IF_ERROR(
        ParseGrant(r, node[i], absl::StrCat("acls[", i, "]"), owns, out));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mayfly::bridge::internal
