// The ACL changes that bring a cluster in line with a policy: a pure diff.
//
// The policy owns the principals it can produce (Policy::Owns) and every ACL
// of those principals; every other ACL on the cluster belongs to someone else
// and is never touched. So:
//   to_create = desired - current
//   to_delete = current - desired, restricted to owned principals
//   left_alone_count = current ACLs of principals the policy does not own
// A desired binding whose principal the policy does not own is an error
// rather than a silent skip: creating it would touch someone else's ACLs.
// Kafka's wildcard principal ("User:*", any "TYPE:*") is never owned, even
// when `owns` says so: its ACLs apply to every principal, so they are left
// alone, and a desired one is an error.
//
// Nothing here talks to a cluster; plan and apply feed it what
// DescribeAcls returned (acl_apply.h). Thread-compatible values.
#ifndef MAYFLY_BRIDGE_ACL_PLAN_H_
#define MAYFLY_BRIDGE_ACL_PLAN_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/acl.h"

namespace mayfly::bridge {

// An ACL on the cluster that the admin client cannot hold as an AclBinding
// (librdkafka 2.0.2 knows no TRANSACTIONAL_ID, DELEGATION_TOKEN or USER
// resources): enough to say whose it is and what it looks like.
struct OpaqueAcl {
  std::string principal;
  std::string description;  // for people, in ToString's shape
};

// What DescribeAcls found on the cluster.
struct ClusterAcls {
  std::vector<AclBinding> bindings;
  std::vector<OpaqueAcl> opaque;
};

// Whether the policy owns `principal` ("User:orders.writer"); in production
// Policy::Owns.
using OwnsPrincipal = std::function<bool(absl::string_view principal)>;

struct AclPlan {
  std::vector<AclBinding> to_create;  // sorted, no duplicates
  std::vector<AclBinding> to_delete;  // sorted, no duplicates, all owned
  // ACLs on the cluster (opaque ones included) whose principal the policy
  // does not own.
  size_t left_alone_count = 0;
  // Opaque ACLs of owned principals: the policy owns them but this client
  // can neither see them whole nor delete them, so the cluster cannot be
  // brought to match the policy while they exist.
  std::vector<OpaqueAcl> unmanageable;

  bool empty() const { return to_create.empty() && to_delete.empty(); }
};

// Whether `principal` is "TYPE:*", which Kafka matches against every
// principal of any name.
bool IsWildcardPrincipal(absl::string_view principal);

// The diff described above. Duplicates in either input count once.
// FailedPrecondition naming the binding if a desired one is not owned.
absl::StatusOr<AclPlan> PlanAcls(const std::vector<AclBinding>& desired,
                                 const ClusterAcls& current,
                                 const OwnsPrincipal& owns);

// The plan for people, one line each, creations first:
//   + ALLOW User:x WRITE on TOPIC orders (LITERAL) from host *
//   - DENY User:x READ on GROUP g (PREFIXED) from host 10.0.0.1
//   ! cannot manage ALLOW User:x WRITE on UNKNOWN tx (LITERAL) from host *
//   plan: 1 to create, 1 to delete, 3 unowned left alone, 1 owned but
//   unmanageable
// (the summary on one line; its last part only when there are such ACLs)
// or "plan: nothing to do (3 unowned left alone)" when there are no
// changes.
// Every line ends in '\n'.
std::string FormatPlan(const AclPlan& plan);

// The summary line alone, without '\n'.
std::string PlanSummary(const AclPlan& plan);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_ACL_PLAN_H_
