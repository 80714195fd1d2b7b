// Tests for the ACL diff: only owned principals move, the rest is counted.
#include "bridge/acl_plan.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Stands in for Policy::Owns: the policy's rules produce these names only.
OwnsPrincipal OwnsOnly(std::set<std::string> owned) {
  return [owned = std::move(owned)](absl::string_view principal) {
    return owned.count(std::string(principal)) > 0;
  };
}

AclBinding Topic(std::string principal, std::string topic, Operation op) {
  AclBinding b;
  b.principal = std::move(principal);
  b.resource_type = ResourceType::kTopic;
  b.resource_name = std::move(topic);
  b.operation = op;
  return b;
}

const OwnsPrincipal kOwns = OwnsOnly({"User:orders.writer", "User:billing"});

TEST(PlanAclsTest, CreatesWhatIsMissingAndDeletesOwnedExtras) {
  const AclBinding write =
      Topic("User:orders.writer", "orders", Operation::kWrite);
  const AclBinding describe =
      Topic("User:orders.writer", "orders", Operation::kDescribe);
  const AclBinding stale = Topic("User:billing", "old", Operation::kRead);
  absl::StatusOr<AclPlan> plan =
      PlanAcls({write, describe}, ClusterAcls{{describe, stale}}, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->to_create, ElementsAre(write));
  EXPECT_THAT(plan->to_delete, ElementsAre(stale));
  EXPECT_EQ(plan->left_alone_count, 0u);
}

TEST(PlanAclsTest, NeverTouchesUnownedPrincipals) {
  const AclBinding theirs =
      Topic("User:someone.else", "orders", Operation::kRead);
  const AclBinding wildcard = Topic("User:*", "public", Operation::kRead);
  absl::StatusOr<AclPlan> plan =
      PlanAcls({}, ClusterAcls{{theirs, wildcard}}, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->to_create, IsEmpty());
  EXPECT_THAT(plan->to_delete, IsEmpty());
  EXPECT_EQ(plan->left_alone_count, 2u);
  EXPECT_TRUE(plan->empty());
}

TEST(PlanAclsTest, OwnedBindingThatDiffersInAnyFieldIsReplaced) {
  const AclBinding want = Topic("User:billing", "invoices", Operation::kRead);
  AclBinding other_host = want;
  other_host.host = "10.0.0.1";
  AclBinding prefixed = want;
  prefixed.pattern_type = PatternType::kPrefixed;
  AclBinding denied = want;
  denied.permission = Permission::kDeny;
  absl::StatusOr<AclPlan> plan =
      PlanAcls({want}, ClusterAcls{{other_host, prefixed, denied}}, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->to_create, ElementsAre(want));
  // In AclBinding's order: host "*" sorts before "10.0.0.1", then the
  // pattern type (literal first) decides.
  EXPECT_THAT(plan->to_delete, ElementsAre(denied, prefixed, other_host));
}

TEST(PlanAclsTest, SecondRunAfterApplyPlansNothing) {
  const AclBinding write =
      Topic("User:orders.writer", "orders", Operation::kWrite);
  const AclBinding theirs = Topic("User:ops", "orders", Operation::kAll);
  absl::StatusOr<AclPlan> plan =
      PlanAcls({write}, ClusterAcls{{write, theirs}}, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty());
  EXPECT_EQ(plan->left_alone_count, 1u);
}

TEST(PlanAclsTest, DuplicatesCountOnce) {
  const AclBinding write =
      Topic("User:orders.writer", "orders", Operation::kWrite);
  const AclBinding theirs = Topic("User:ops", "orders", Operation::kAll);
  absl::StatusOr<AclPlan> plan =
      PlanAcls({write, write}, ClusterAcls{{theirs, theirs}}, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->to_create, ElementsAre(write));
  EXPECT_EQ(plan->left_alone_count, 1u);
}

TEST(PlanAclsTest, RefusesToCreateForAPrincipalThePolicyDoesNotOwn) {
  EXPECT_THAT(
      PlanAcls({Topic("User:ops", "orders", Operation::kAll)}, {}, kOwns),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("grants to User:ops, which no principals rule "
                         "produces")));
}

// Even an ownership test that claims everything (a broken policy, another
// caller) cannot make plan delete or create a wildcard ACL.
TEST(PlanAclsTest, NeverTouchesWildcardPrincipalsEvenIfClaimed) {
  const OwnsPrincipal owns_all = [](absl::string_view) { return true; };
  const AclBinding wildcard = Topic("User:*", "public", Operation::kRead);
  const AclBinding group_wildcard =
      Topic("Group:*", "public", Operation::kRead);
  const AclBinding stale = Topic("User:billing", "old", Operation::kRead);
  ClusterAcls current{{wildcard, group_wildcard, stale}};
  current.opaque = {
      {"User:*", "ALLOW User:* WRITE on UNKNOWN tx (LITERAL) from host *"}};
  absl::StatusOr<AclPlan> plan = PlanAcls({}, current, owns_all);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->to_delete, ElementsAre(stale));
  EXPECT_THAT(plan->unmanageable, IsEmpty());
  EXPECT_EQ(plan->left_alone_count, 3u);

  EXPECT_THAT(PlanAcls({wildcard}, {}, owns_all),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::Eq("the policy grants to User:*, Kafka's "
                                     "wildcard principal (every user), which "
                                     "no policy may own: " +
                                     ToString(wildcard))));
}

TEST(PlanAclsTest, WildcardPrincipalIsTheWholeName) {
  EXPECT_TRUE(IsWildcardPrincipal("User:*"));
  EXPECT_TRUE(IsWildcardPrincipal("Group:*"));
  EXPECT_FALSE(IsWildcardPrincipal("User:**"));
  EXPECT_FALSE(IsWildcardPrincipal("User:a*"));
  EXPECT_FALSE(IsWildcardPrincipal("User:*a"));
  EXPECT_FALSE(IsWildcardPrincipal("*"));
}

TEST(PlanAclsTest, OpaqueAclsAreLeftAloneOrFlaggedAsUnmanageable) {
  ClusterAcls current;
  current.opaque = {
      {"User:ops", "ALLOW User:ops WRITE on UNKNOWN tx1 (LITERAL) from host *"},
      {"User:billing",
       "ALLOW User:billing WRITE on UNKNOWN tx2 (LITERAL) from host *"}};
  absl::StatusOr<AclPlan> plan = PlanAcls({}, current, kOwns);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->left_alone_count, 1u);
  ASSERT_THAT(plan->unmanageable, ::testing::SizeIs(1));
  EXPECT_EQ(plan->unmanageable[0].principal, "User:billing");
  EXPECT_EQ(FormatPlan(*plan),
            "! cannot manage ALLOW User:billing WRITE on UNKNOWN tx2 "
            "(LITERAL) from host *\n"
            "plan: nothing to do (1 unowned left alone, 1 owned but "
            "unmanageable)\n");
}

TEST(FormatPlanTest, CreationsThenDeletionsThenSummary) {
  AclPlan plan;
  plan.to_create = {Topic("User:orders.writer", "orders", Operation::kWrite)};
  AclBinding group;
  group.principal = "User:billing";
  group.resource_type = ResourceType::kGroup;
  group.resource_name = "billing-";
  group.pattern_type = PatternType::kPrefixed;
  group.operation = Operation::kRead;
  group.permission = Permission::kDeny;
  group.host = "10.0.0.1";
  plan.to_delete = {group};
  plan.left_alone_count = 3;
  EXPECT_EQ(FormatPlan(plan),
            "+ ALLOW User:orders.writer WRITE on TOPIC orders (LITERAL) from "
            "host *\n"
            "- DENY User:billing READ on GROUP billing- (PREFIXED) from host "
            "10.0.0.1\n"
            "plan: 1 to create, 1 to delete, 3 unowned left alone\n");
}

TEST(FormatPlanTest, EmptyPlanSaysNothingToDo) {
  AclPlan plan;
  plan.left_alone_count = 2;
  EXPECT_EQ(FormatPlan(plan), "plan: nothing to do (2 unowned left alone)\n");
}

}  // namespace
}  // namespace mayfly::bridge
