// gMock matchers for absl::Status and absl::StatusOr, for tests only.
//
//   EXPECT_THAT(Parse(x), StatusIs(absl::StatusCode::kInvalidArgument,
//                                  HasSubstr("trailing")));
//   EXPECT_THAT(Parse(x), InvalidWith("trailing"));
#ifndef MAYFLY_IDENTITY_TESTING_STATUS_MATCHERS_H_
#define MAYFLY_IDENTITY_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace mayfly::testing_util {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches a Status or StatusOr whose code is `code` and whose message
// matches `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

// kInvalidArgument with `rule` somewhere in the message.
MATCHER_P(InvalidWith, rule, "") {
  return ::testing::ExplainMatchResult(
      StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr(rule)),
      arg, result_listener);
}

}  // namespace mayfly::testing_util

#endif  // MAYFLY_IDENTITY_TESTING_STATUS_MATCHERS_H_
