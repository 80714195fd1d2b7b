// Applying an ACL plan: see acl_plan_apply.h.
#include "bridge/acl_plan_apply.h"

#include "absl/strings/str_cat.h"

namespace mayfly::bridge {
namespace {

using Action = AclOutcome::Action;
using Result = AclOutcome::Result;

void Record(Action action, const std::vector<AclBinding>& bindings,
            const std::vector<absl::Status>& statuses, ApplyReport& report) {
  for (size_t i = 0; i < bindings.size(); ++i) {
    // An implementation that answers for fewer bindings than it was given
    // has not done the rest.
    absl::Status status =
        i < statuses.size()
            ? statuses[i]
            : absl::InternalError("the admin client gave no result for it");
    const Result result = status.ok() ? Result::kDone : Result::kFailed;
    report.outcomes.push_back({action, bindings[i], result, std::move(status)});
  }
}

}  // namespace

size_t ApplyReport::Count(Action action, Result result) const {
  size_t n = 0;
  for (const AclOutcome& o : outcomes) {
    if (o.action == action && o.result == result) ++n;
  }
  return n;
}

bool ApplyReport::ok() const {
  for (const AclOutcome& o : outcomes) {
    if (o.result != Result::kDone) return false;
  }
  return true;
}

ApplyReport ApplyPlan(const AclPlan& plan, AclAdmin& admin) {
  ApplyReport report;
  if (!plan.to_create.empty()) {
    Record(Action::kCreate, plan.to_create, admin.CreateAcls(plan.to_create),
           report);
  }
  const size_t failed_creates = report.Count(Action::kCreate, Result::kFailed);
  if (failed_creates > 0) {
    const absl::Status why = absl::AbortedError(
        absl::StrCat("not attempted: ", failed_creates,
                     " creation(s) failed, and a deletion may be what a "
                     "failed creation replaces"));
    for (const AclBinding& b : plan.to_delete) {
      report.outcomes.push_back({Action::kDelete, b, Result::kSkipped, why});
    }
    return report;
  }
  if (!plan.to_delete.empty()) {
    Record(Action::kDelete, plan.to_delete, admin.DeleteAcls(plan.to_delete),
           report);
  }
  return report;
}

std::string FormatReport(const ApplyReport& report) {
  std::string text;
  for (const AclOutcome& o : report.outcomes) {
    const bool create = o.action == Action::kCreate;
    switch (o.result) {
      case Result::kDone:
        absl::StrAppend(&text, create ? "created " : "deleted ",
                        ToString(o.binding), "\n");
        break;
      case Result::kFailed:
        absl::StrAppend(&text, "FAILED to ", create ? "create " : "delete ",
                        ToString(o.binding), ": ", o.status.message(), "\n");
        break;
      case Result::kSkipped:
        absl::StrAppend(&text, "NOT ", create ? "created " : "deleted ",
                        ToString(o.binding), ": ", o.status.message(), "\n");
        break;
    }
  }
  const size_t creates = report.Count(Action::kCreate, Result::kDone) +
                         report.Count(Action::kCreate, Result::kFailed) +
                         report.Count(Action::kCreate, Result::kSkipped);
  const size_t deletes = report.Count(Action::kDelete, Result::kDone) +
                         report.Count(Action::kDelete, Result::kFailed) +
                         report.Count(Action::kDelete, Result::kSkipped);
  const size_t failed = report.Count(Action::kCreate, Result::kFailed) +
                        report.Count(Action::kDelete, Result::kFailed);
  const size_t skipped = report.Count(Action::kCreate, Result::kSkipped) +
                         report.Count(Action::kDelete, Result::kSkipped);
  absl::StrAppend(
      &text, "apply: ", report.Count(Action::kCreate, Result::kDone), " of ",
      creates, " created, ", report.Count(Action::kDelete, Result::kDone),
      " of ", deletes, " deleted, ", failed, " failed, ", skipped,
      " not attempted\n");
  return text;
}

}  // namespace mayfly::bridge
