// The shared YAML vectors (bridge/testdata/yaml_vectors/) against the C++
// bridge: each file loads as a policy, or fails with exactly the message of
// expectations.txt. The Java plugin's YamlVectorsTest reads the same files,
// so both parsers accept the same language with the same errors.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bridge/policy.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/yaml_strict.h"

namespace mayfly::bridge {
namespace {

// A vector set that shrank by accident would still pass; this many cases
// is what the file held when both implementations first passed it.
constexpr size_t kMinCases = 51;

std::string VectorFile(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"),
                      "/bridge/testdata/yaml_vectors/", name);
}

// "generated_size_N.yaml": ok_plain.yaml padded with a comment to N bytes
// (too big to commit). Any other name is a file.
std::string Input(const std::string& name) {
  absl::string_view n = name;
  if (absl::ConsumePrefix(&n, "generated_size_") &&
      absl::ConsumeSuffix(&n, ".yaml")) {
    size_t size = 0;
    EXPECT_TRUE(absl::SimpleAtoi(n, &size)) << name;
    std::string text = *identity::ReadFile(VectorFile("ok_plain.yaml"));
    text.append(size - text.size() - 1, '#');
    return text + "\n";
  }
  absl::StatusOr<std::string> text = identity::ReadFile(VectorFile(name));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

std::vector<std::pair<std::string, std::string>> Expectations() {
  absl::StatusOr<std::string> text =
      identity::ReadFile(VectorFile("expectations.txt"));
  EXPECT_TRUE(text.ok()) << text.status();
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::pair<std::string, std::string> c =
        absl::StrSplit(line, absl::MaxSplits(" => ", 1));
    out.push_back(std::move(c));
  }
  return out;
}

TEST(YamlVectorsTest, EveryFileLoadsOrFailsAsWritten) {
  const auto cases = Expectations();
  EXPECT_GE(cases.size(), kMinCases);
  for (const auto& [name, expected] : cases) {
    absl::StatusOr<Policy> policy = Policy::Parse(Input(name), name);
    const std::string got =
        policy.ok() ? "ok" : std::string(policy.status().message());
    EXPECT_EQ(got, expected) << name;
  }
}

// The generated sizes sit on the limit, so the limit is what they test.
TEST(YamlVectorsTest, GeneratedSizesStraddleTheLimit) {
  std::vector<std::string> names;
  for (const auto& [name, expected] : Expectations()) names.push_back(name);
  const std::string at =
      absl::StrCat("generated_size_", identity::kMaxYamlBytes, ".yaml");
  const std::string over =
      absl::StrCat("generated_size_", identity::kMaxYamlBytes + 1, ".yaml");
  EXPECT_NE(std::find(names.begin(), names.end(), at), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), over), names.end());
}

}  // namespace
}  // namespace mayfly::bridge
