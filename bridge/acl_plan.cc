// The ACL diff: see acl_plan.h.
#include "bridge/acl_plan.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"

namespace mayfly::bridge {

bool IsWildcardPrincipal(absl::string_view principal) {
  const size_t colon = principal.find(':');
  return colon != absl::string_view::npos && principal.substr(colon + 1) == "*";
}

absl::StatusOr<AclPlan> PlanAcls(const std::vector<AclBinding>& desired,
                                 const ClusterAcls& current,
                                 const OwnsPrincipal& owns) {
  const std::set<AclBinding> want(desired.begin(), desired.end());
  for (const AclBinding& binding : want) {
    if (IsWildcardPrincipal(binding.principal)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the policy grants to ", binding.principal,
          ", Kafka's wildcard principal (every user), which no policy may "
          "own: ",
          ToString(binding)));
    }
    if (!owns(binding.principal)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the policy grants to ", binding.principal,
                       ", which no principals rule produces, so it does not "
                       "own it: ",
                       ToString(binding)));
    }
  }
  // A wildcard ACL affects every team: whatever `owns` says, it is never
  // the policy's to delete.
  const auto Manages = [&owns](absl::string_view principal) {
    return !IsWildcardPrincipal(principal) && owns(principal);
  };
  std::set<AclBinding> have_owned;
  AclPlan plan;
  for (const AclBinding& binding :
       std::set<AclBinding>(current.bindings.begin(), current.bindings.end())) {
    if (Manages(binding.principal)) {
      have_owned.insert(binding);
    } else {
      ++plan.left_alone_count;
    }
  }
  for (const OpaqueAcl& acl : current.opaque) {
    if (Manages(acl.principal)) {
      plan.unmanageable.push_back(acl);
    } else {
      ++plan.left_alone_count;
    }
  }
  std::set_difference(want.begin(), want.end(), have_owned.begin(),
                      have_owned.end(), std::back_inserter(plan.to_create));
  std::set_difference(have_owned.begin(), have_owned.end(), want.begin(),
                      want.end(), std::back_inserter(plan.to_delete));
  return plan;
}

std::string PlanSummary(const AclPlan& plan) {
  const std::string unmanageable =
      plan.unmanageable.empty() ? ""
                                : absl::StrCat(", ", plan.unmanageable.size(),
                                               " owned but unmanageable");
  if (plan.empty()) {
    return absl::StrCat("plan: nothing to do (", plan.left_alone_count,
                        " unowned left alone", unmanageable, ")");
  }
  return absl::StrCat("plan: ", plan.to_create.size(), " to create, ",
                      plan.to_delete.size(), " to delete, ",
                      plan.left_alone_count, " unowned left alone",
                      unmanageable);
}

std::string FormatPlan(const AclPlan& plan) {
  std::string text;
  for (const AclBinding& b : plan.to_create) {
    absl::StrAppend(&text, "+ ", ToString(b), "\n");
  }
  for (const AclBinding& b : plan.to_delete) {
    absl::StrAppend(&text, "- ", ToString(b), "\n");
  }
  for (const OpaqueAcl& acl : plan.unmanageable) {
    absl::StrAppend(&text, "! cannot manage ", acl.description, "\n");
  }
  absl::StrAppend(&text, PlanSummary(plan), "\n");
  return text;
}

}  // namespace mayfly::bridge
