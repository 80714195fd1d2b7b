// The probe request's bytes and the checks on its answer (upstream_open.h).
#include "kafka/client/upstream_open.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(ProbeRequestTest, IsApiVersionsV0WithTheProbeCorrelationId) {
  const std::string expected =
      Bytes({0, 0, 0, 22,             // size: the 22 bytes after it
             0, 18,                   // api_key ApiVersions
             0, 0,                    // api_version 0
             0x6d, 0x61, 0x79, 0x66,  // correlation id "mayf"
             0, 12}) +                // client_id length
      "mayfly-relay";
  EXPECT_EQ(ProbeRequest(), expected);
}

TEST(CheckProbeResponseTest, AcceptsASuccessfulAnswer) {
  // correlation id, error_code 0, an empty api_keys array.
  EXPECT_EQ(
      CheckProbeResponse(Bytes({0x6d, 0x61, 0x79, 0x66, 0, 0, 0, 0, 0, 0})),
      absl::OkStatus());
}

TEST(CheckProbeResponseTest, RefusesAnotherCorrelationId) {
  EXPECT_THAT(CheckProbeResponse(Bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("correlation id 1")));
}

TEST(CheckProbeResponseTest, RefusesAnErrorCode) {
  // UNSUPPORTED_VERSION (35).
  EXPECT_THAT(
      CheckProbeResponse(Bytes({0x6d, 0x61, 0x79, 0x66, 0, 35, 0, 0, 0, 0})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error 35")));
}

TEST(CheckProbeResponseTest, RefusesATruncatedAnswer) {
  EXPECT_THAT(CheckProbeResponse(Bytes({0x6d, 0x61, 0x79, 0x66, 0})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("5 bytes is too short")));
}

}  // namespace
}  // namespace mayfly::kafka
