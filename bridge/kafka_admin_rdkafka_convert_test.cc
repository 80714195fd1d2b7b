// Tests for the librdkafka conversions: every binding the policy can express
// survives the trip through librdkafka's objects, and what librdkafka 2.0.2
// cannot express is refused by name.
#include "bridge/kafka_admin_rdkafka_convert.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::bridge::rdkafka_internal {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

AclBinding Binding(ResourceType type, PatternType pattern, Operation op,
                   Permission permission) {
  AclBinding b;
  b.principal = "User:orders.writer";
  b.host = "*";
  b.resource_type = type;
  b.resource_name = type == ResourceType::kCluster ? "kafka-cluster" : "orders";
  b.pattern_type = pattern;
  b.operation = op;
  b.permission = permission;
  return b;
}

TEST(ConvertTest, EveryExpressibleBindingRoundTrips) {
  int checked = 0;
  for (ResourceType type :
       {ResourceType::kTopic, ResourceType::kGroup, ResourceType::kCluster}) {
    for (PatternType pattern :
         {PatternType::kLiteral, PatternType::kPrefixed}) {
      for (int op = 0; op <= static_cast<int>(Operation::kIdempotentWrite);
           ++op) {
        for (Permission permission : {Permission::kAllow, Permission::kDeny}) {
          for (bool filter : {false, true}) {
            const AclBinding b =
                Binding(type, pattern, static_cast<Operation>(op), permission);
            absl::StatusOr<UniqueAclBinding> rd = ToRd(b, filter);
            ASSERT_TRUE(rd.ok()) << ToString(b) << ": " << rd.status();
            std::optional<AclBinding> back = FromRd(**rd);
            ASSERT_TRUE(back.has_value()) << ToString(b);
            EXPECT_EQ(*back, b);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 2 * 11 * 2 * 2);
}

TEST(ConvertTest, ClusterIsLibrdkafkasBrokerResource) {
  absl::StatusOr<UniqueAclBinding> rd =
      ToRd(Binding(ResourceType::kCluster, PatternType::kLiteral,
                   Operation::kIdempotentWrite, Permission::kAllow),
           false);
  ASSERT_TRUE(rd.ok());
  // Kafka's ACL resource type CLUSTER is 4 on the wire.
  EXPECT_EQ(static_cast<int>(rd_kafka_AclBinding_restype(rd->get())), 4);
}

TEST(ConvertTest, TransactionalIdIsRefusedByName) {
  EXPECT_THAT(
      ToRd(Binding(ResourceType::kTransactionalId, PatternType::kLiteral,
                   Operation::kWrite, Permission::kAllow),
           true),
      StatusIs(absl::StatusCode::kUnimplemented,
               HasSubstr("cannot express ACLs on TRANSACTIONAL_ID")));
}

TEST(ConvertTest, ResourceTypeWithNoBindingBecomesOpaque) {
  // librdkafka 2.0.2 turns a TRANSACTIONAL_ID ACL in a DescribeAcls answer
  // into resource type UNKNOWN, which no public constructor accepts; ANY
  // (a filter's) has no AclBinding either and stands for it here.
  char errstr[256] = "";
  UniqueAclBinding acl(rd_kafka_AclBindingFilter_new(
      RD_KAFKA_RESOURCE_ANY, "tx-orders", RD_KAFKA_RESOURCE_PATTERN_LITERAL,
      "User:orders.writer", "*", RD_KAFKA_ACL_OPERATION_WRITE,
      RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr, sizeof errstr));
  ASSERT_NE(acl, nullptr) << errstr;
  EXPECT_FALSE(FromRd(*acl).has_value());
  const OpaqueAcl opaque = Opaque(*acl);
  EXPECT_EQ(opaque.principal, "User:orders.writer");
  EXPECT_EQ(opaque.description,
            "ALLOW User:orders.writer WRITE on ANY tx-orders (LITERAL) "
            "from host *");
}

TEST(ConvertTest, KafkaErrorsKeepTheNameAndMapTheCode) {
  EXPECT_THAT(
      KafkaError(RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, "not allowed"),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "CLUSTER_AUTHORIZATION_FAILED: not allowed"));
  EXPECT_THAT(KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "DescribeAcls"),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "_TIMED_OUT: DescribeAcls"));
  EXPECT_TRUE(KafkaError(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
}

}  // namespace
}  // namespace mayfly::bridge::rdkafka_internal
