// Carrying out an AclPlan on a cluster through an AclAdmin, and saying
// exactly what was done.
//
// Creations go first, deletions after, and only when every creation
// succeeded: a binding the policy changed (say ALL narrowed to READ and
// WRITE) is then never gone before its replacement is there. A failed apply
// leaves the cluster somewhere between the old state and the policy's;
// planning again from what the cluster then holds gives the rest, so a
// re-run finishes the job and a run after that plans nothing.
#ifndef MAYFLY_BRIDGE_ACL_PLAN_APPLY_H_
#define MAYFLY_BRIDGE_ACL_PLAN_APPLY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bridge/acl.h"
#include "bridge/acl_plan.h"
#include "bridge/kafka_admin.h"

namespace mayfly::bridge {

struct AclOutcome {
  enum class Action { kCreate, kDelete };
  enum class Result { kDone, kFailed, kSkipped };
  Action action;
  AclBinding binding;
  Result result;
  // kFailed: the broker's (or the connection's) error. kSkipped: why.
  absl::Status status;
};

struct ApplyReport {
  std::vector<AclOutcome> outcomes;  // creations, then deletions, plan order

  size_t Count(AclOutcome::Action action, AclOutcome::Result result) const;
  // Every planned change was made.
  bool ok() const;
};

ApplyReport ApplyPlan(const AclPlan& plan, AclAdmin& admin);

// One line per outcome, then a summary:
//   created ALLOW User:x WRITE on TOPIC orders (LITERAL) from host *
//   FAILED to create ALLOW ...: <broker error>
//   deleted DENY ...
//   NOT deleted DENY ...: <why>
//   apply: 1 of 2 created, 1 of 1 deleted, 1 failed, 0 not attempted
// Every line ends in '\n'.
std::string FormatReport(const ApplyReport& report);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_ACL_PLAN_APPLY_H_
