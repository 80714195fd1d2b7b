// Tests for apply: per-binding outcomes, a failed apply finished by a re-run,
// and a second apply that plans nothing.
#include "bridge/acl_plan_apply.h"

#include <set>
#include <string>

#include "bridge/kafka_admin_fake.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mayfly::bridge {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

bool Owns(absl::string_view principal) {
  return principal == "User:orders.writer" || principal == "User:billing";
}

AclBinding Topic(std::string principal, std::string topic, Operation op) {
  AclBinding b;
  b.principal = std::move(principal);
  b.resource_name = std::move(topic);
  b.operation = op;
  return b;
}

const AclBinding kWrite =
    Topic("User:orders.writer", "orders", Operation::kWrite);
const AclBinding kDescribe =
    Topic("User:orders.writer", "orders", Operation::kDescribe);
const AclBinding kStale = Topic("User:billing", "orders", Operation::kAll);
const AclBinding kTheirs = Topic("User:ops", "orders", Operation::kAll);

// Plans against the fake's current state and applies: one `mayfly bridge
// apply` run.
ApplyReport PlanAndApply(FakeAclAdmin& admin) {
  absl::StatusOr<ClusterAcls> current = admin.DescribeAcls();
  EXPECT_TRUE(current.ok()) << current.status();
  absl::StatusOr<AclPlan> plan = PlanAcls({kWrite, kDescribe}, *current, Owns);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return ApplyPlan(*plan, admin);
}

TEST(ApplyPlanTest, MakesThePlanAndLeavesOthersAlone) {
  FakeAclAdmin admin;
  admin.acls = {kStale, kTheirs};
  const ApplyReport report = PlanAndApply(admin);
  EXPECT_TRUE(report.ok());
  EXPECT_THAT(admin.acls, UnorderedElementsAre(kWrite, kDescribe, kTheirs));
  EXPECT_EQ(FormatReport(report),
            "created ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) "
            "from host *\n"
            "created ALLOW User:orders.writer DESCRIBE on TOPIC orders "
            "(LITERAL) from host *\n"
            "deleted ALLOW User:billing ALL on TOPIC orders (LITERAL) from "
            "host *\n"
            "apply: 2 of 2 created, 1 of 1 deleted, 0 failed, 0 not "
            "attempted\n");
}

TEST(ApplyPlanTest, SecondApplyPlansNothing) {
  FakeAclAdmin admin;
  admin.acls = {kStale, kTheirs};
  ASSERT_TRUE(PlanAndApply(admin).ok());
  const ApplyReport second = PlanAndApply(admin);
  EXPECT_TRUE(second.ok());
  EXPECT_THAT(second.outcomes, ::testing::IsEmpty());
  EXPECT_EQ(admin.create_calls, 1);
  EXPECT_EQ(admin.delete_calls, 1);
}

TEST(ApplyPlanTest, FailedCreationIsReportedAndDeletionsWait) {
  FakeAclAdmin admin;
  admin.acls = {kStale, kTheirs};
  admin.fail_once[kDescribe] =
      absl::PermissionDeniedError("CLUSTER_AUTHORIZATION_FAILED");
  const ApplyReport report = PlanAndApply(admin);
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(admin.acls, UnorderedElementsAre(kWrite, kStale, kTheirs));
  EXPECT_EQ(FormatReport(report),
            "created ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) "
            "from host *\n"
            "FAILED to create ALLOW User:orders.writer DESCRIBE on TOPIC "
            "orders (LITERAL) from host *: CLUSTER_AUTHORIZATION_FAILED\n"
            "NOT deleted ALLOW User:billing ALL on TOPIC orders (LITERAL) "
            "from host *: not attempted: 1 creation(s) failed, and a "
            "deletion may be what a failed creation replaces\n"
            "apply: 1 of 2 created, 0 of 1 deleted, 1 failed, 1 not "
            "attempted\n");

  // The re-run does only what is left, then nothing is left.
  const ApplyReport rerun = PlanAndApply(admin);
  EXPECT_TRUE(rerun.ok());
  EXPECT_EQ(FormatReport(rerun),
            "created ALLOW User:orders.writer DESCRIBE on TOPIC orders "
            "(LITERAL) from host *\n"
            "deleted ALLOW User:billing ALL on TOPIC orders (LITERAL) from "
            "host *\n"
            "apply: 1 of 1 created, 1 of 1 deleted, 0 failed, 0 not "
            "attempted\n");
  EXPECT_THAT(admin.acls, UnorderedElementsAre(kWrite, kDescribe, kTheirs));
  EXPECT_TRUE(PlanAndApply(admin).outcomes.empty());
}

TEST(ApplyPlanTest, FailedDeletionIsReportedAndFinishedByARerun) {
  FakeAclAdmin admin;
  admin.acls = {kWrite, kDescribe, kStale};
  admin.fail_next_delete = absl::DeadlineExceededError("Local: Timed out");
  const ApplyReport report = PlanAndApply(admin);
  ASSERT_THAT(report.outcomes, ::testing::SizeIs(1));
  EXPECT_EQ(report.outcomes[0].result, AclOutcome::Result::kFailed);
  EXPECT_EQ(FormatReport(report),
            "FAILED to delete ALLOW User:billing ALL on TOPIC orders "
            "(LITERAL) from host *: Local: Timed out\n"
            "apply: 0 of 0 created, 0 of 1 deleted, 1 failed, 0 not "
            "attempted\n");
  EXPECT_TRUE(PlanAndApply(admin).ok());
  EXPECT_THAT(admin.acls, UnorderedElementsAre(kWrite, kDescribe));
}

TEST(ApplyPlanTest, MissingResultsCountAsFailures) {
  // An admin that answers for fewer bindings than asked.
  class ShortAdmin : public FakeAclAdmin {
    std::vector<absl::Status> CreateAcls(
        const std::vector<AclBinding>&) override {
      return {absl::OkStatus()};
    }
  } admin;
  AclPlan plan;
  plan.to_create = {kWrite, kDescribe};
  const ApplyReport report = ApplyPlan(plan, admin);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(
      report.Count(AclOutcome::Action::kCreate, AclOutcome::Result::kFailed),
      1u);
  EXPECT_THAT(report.outcomes[1].status.message(),
              ::testing::Eq("the admin client gave no result for it"));
}

}  // namespace
}  // namespace mayfly::bridge
