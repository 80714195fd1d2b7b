// gRPC status code names: the first, the last, and one gRPC does not define.
#include "identity/grpc_status.h"

#include "gtest/gtest.h"

namespace mayfly::identity {
namespace {

TEST(GrpcCodeNameTest, NamesEachCodeAsGrpcSpellsIt) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::PERMISSION_DENIED),
            "PERMISSION_DENIED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(17)), "CODE_17");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(-1)), "CODE_-1");
}

}  // namespace
}  // namespace mayfly::identity
