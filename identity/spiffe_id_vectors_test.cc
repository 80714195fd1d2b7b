// The shared SPIFFE ID vectors (identity/testdata/spiffe_id_vectors.yaml)
// against the C++ parser: each ID gives exactly its parts or its message,
// each pattern matches exactly what the file says or fails with its
// message. The Java plugin runs the same file (SpiffeIdVectorsTest.java).
//
// The file is read with yaml-cpp directly, not identity::LoadYaml: it is
// test data whose escapes spell characters that a config may not hold.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {
namespace {

// The file should keep at least this many cases of each kind; it has more.
constexpr size_t kMinIdCases = 50;
constexpr size_t kMinPatternCases = 20;

YAML::Node LoadVectors() {
  const std::string path = absl::StrCat(
      std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
      "/identity/testdata/spiffe_id_vectors.yaml");
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  return YAML::Load(text.value_or(""));
}

std::string Where(const char* list, size_t i, const YAML::Node& node) {
  return absl::StrCat(list, "[", i, "] at line ", node.Mark().line + 1);
}

TEST(SpiffeIdVectorsTest, EveryIdParsesOrFailsAsWritten) {
  const YAML::Node ids = LoadVectors()["ids"];
  ASSERT_TRUE(ids.IsSequence());
  std::set<std::string> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    const YAML::Node c = ids[i];
    const std::string where = Where("ids", i, c);
    const bool ok_case = c.size() == 3 && c["trust_domain"] && c["path"];
    ASSERT_TRUE(c["id"] && (ok_case || (c.size() == 2 && c["error"])))
        << where << ": want id and either trust_domain and path, or error";
    const std::string id = c["id"].as<std::string>();
    EXPECT_TRUE(seen.insert(id).second) << where << ": given twice";
    absl::StatusOr<SpiffeId> got = SpiffeId::FromString(id);
    if (ok_case) {
      ASSERT_TRUE(got.ok()) << where << ": " << got.status();
      EXPECT_EQ(got->trust_domain().name(), c["trust_domain"].as<std::string>())
          << where;
      EXPECT_EQ(got->path(), c["path"].as<std::string>()) << where;
      EXPECT_EQ(got->ToString(), id) << where;
    } else {
      ASSERT_FALSE(got.ok()) << where << ": parsed";
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(std::string(got.status().message()),
                c["error"].as<std::string>())
          << where;
    }
  }
  EXPECT_GE(seen.size(), kMinIdCases);
}

TEST(SpiffeIdVectorsTest, EveryPatternMatchesOrFailsAsWritten) {
  const YAML::Node patterns = LoadVectors()["patterns"];
  ASSERT_TRUE(patterns.IsSequence());
  for (size_t i = 0; i < patterns.size(); ++i) {
    const YAML::Node c = patterns[i];
    const std::string where = Where("patterns", i, c);
    const bool ok_case = c.size() == 3 && c["match"] && c["no_match"];
    ASSERT_TRUE(c["pattern"] && (ok_case || (c.size() == 2 && c["error"])))
        << where << ": want pattern and either match and no_match, or error";
    absl::StatusOr<SpiffeIdPattern> pattern =
        SpiffeIdPattern::FromString(c["pattern"].as<std::string>());
    if (!ok_case) {
      ASSERT_FALSE(pattern.ok()) << where << ": parsed";
      EXPECT_EQ(std::string(pattern.status().message()),
                c["error"].as<std::string>())
          << where;
      continue;
    }
    ASSERT_TRUE(pattern.ok()) << where << ": " << pattern.status();
    for (const auto& [list, want] :
         {std::pair{"match", true}, std::pair{"no_match", false}}) {
      for (const YAML::Node& id_node : c[list]) {
        absl::StatusOr<SpiffeId> id =
            SpiffeId::FromString(id_node.as<std::string>());
        ASSERT_TRUE(id.ok()) << where << ": " << id.status();
        EXPECT_EQ(pattern->Matches(*id), want) << where << ": " << *id;
      }
    }
  }
  EXPECT_GE(patterns.size(), kMinPatternCases);
}

}  // namespace
}  // namespace mayfly::identity
