// CheckJsonBounds: what counts as nesting, and the exact limits.
#include "identity/json_util.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

constexpr JsonLimits kLimits = {64, 3};

TEST(CheckJsonBoundsTest, DepthCountsArraysAndObjects) {
  EXPECT_TRUE(CheckJsonBounds(R"({"a":[{"b":1}]})", kLimits, "x").ok());
  EXPECT_THAT(CheckJsonBounds(R"({"a":[{"b":[]}]})", kLimits, "claims"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("claims nests arrays and objects deeper "
                                 "than 3 (at byte 11)")));
}

TEST(CheckJsonBoundsTest, ClosedLevelsAreNotCounted) {
  EXPECT_TRUE(CheckJsonBounds("[[[]],[[]],[[]]]", kLimits, "x").ok());
}

TEST(CheckJsonBoundsTest, BracketsInStringsAreText) {
  EXPECT_TRUE(CheckJsonBounds(R"({"a":"[[[[{{{{"})", kLimits, "x").ok());
  // An escaped quote does not end the string; an escaped backslash does not
  // escape the quote after it.
  EXPECT_TRUE(CheckJsonBounds(R"({"a":"\"[[[["})", kLimits, "x").ok());
  EXPECT_FALSE(CheckJsonBounds(R"({"a":"\\",[[[]]]})", kLimits, "x").ok());
}

TEST(CheckJsonBoundsTest, SizeLimitIsExact) {
  EXPECT_TRUE(CheckJsonBounds(std::string(64, ' '), kLimits, "x").ok());
  EXPECT_THAT(CheckJsonBounds(std::string(65, ' '), kLimits, "header"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("header is 65 bytes; at most 64")));
}

}  // namespace
}  // namespace mayfly::identity
