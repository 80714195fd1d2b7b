// The shared mapping vectors (bridge/testdata/mapping_vectors.yaml) against
// the C++ mapper: every case must give exactly its principal or its denial.
// The Java plugin passes the same file; this test also keeps the file in the
// shape both read and keeps the cases the issue requires in it.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/policy.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/spiffe_id.h"
#include "identity/yaml_reader.h"

namespace mayfly::bridge {
namespace {

// The issue asks for at least 40 cases.
constexpr size_t kMinCases = 40;

std::string TestData(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/bridge/testdata/", name);
}

struct Vectors {
  YAML::Node cases;
  std::string policy_file;
};

Vectors LoadVectors() {
  const std::string path = TestData("mapping_vectors.yaml");
  absl::StatusOr<std::string> text = identity::ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  absl::StatusOr<YAML::Node> root = identity::LoadYaml(*text, path);
  EXPECT_TRUE(root.ok()) << root.status();
  const identity::YamlReader r(path);
  EXPECT_TRUE(r.CheckKeys(*root, "", {"policy", "cases"}).ok());
  return Vectors{(*root)["cases"], (*root)["policy"].Scalar()};
}

TEST(MappingVectorsTest, EveryCaseMapsAsWritten) {
  const Vectors vectors = LoadVectors();
  ASSERT_EQ(vectors.policy_file, "mapping_policy.yaml");
  absl::StatusOr<Policy> policy = Policy::Load(TestData(vectors.policy_file));
  ASSERT_TRUE(policy.ok()) << policy.status();
  ASSERT_TRUE(vectors.cases.IsSequence());

  std::set<std::string> ids;
  for (size_t i = 0; i < vectors.cases.size(); ++i) {
    const YAML::Node c = vectors.cases[i];
    const std::string where =
        absl::StrCat("cases[", i, "] at line ", c.Mark().line + 1);
    ASSERT_TRUE(c.IsMap() && c["id"] && c.size() == 2 &&
                (c["principal"] || c["deny"]))
        << where << ": want id and one of principal, deny";
    const std::string id = c["id"].Scalar();
    EXPECT_TRUE(ids.insert(id).second) << where << ": id given twice: " << id;
    const MapResult got = policy->Map(id);
    if (c["principal"]) {
      EXPECT_EQ(got.principal, c["principal"].Scalar())
          << where << ": " << id << " (" << DenialName(got.denial) << ": "
          << got.detail << ")";
    } else {
      EXPECT_EQ(got.principal, std::nullopt) << where << ": " << id;
      EXPECT_EQ(DenialName(got.denial), c["deny"].Scalar())
          << where << ": " << id << ": " << got.detail;
    }
  }
  EXPECT_GE(ids.size(), kMinCases);
}

// The cases the issue names stay in the file: the longest valid ID and one
// byte over it, and each denial.
TEST(MappingVectorsTest, KeepsTheRequiredKinds) {
  const Vectors vectors = LoadVectors();
  bool max_length_maps = false;
  bool one_over_denied = false;
  std::set<std::string> denials;
  for (const YAML::Node& c : vectors.cases) {
    const std::string id = c["id"].Scalar();
    if (id.size() == identity::kMaxSpiffeIdLength && c["principal"]) {
      max_length_maps = true;
    }
    if (id.size() == identity::kMaxSpiffeIdLength + 1 && c["deny"] &&
        c["deny"].Scalar() == "invalid_id") {
      one_over_denied = true;
    }
    if (c["deny"]) denials.insert(c["deny"].Scalar());
  }
  EXPECT_TRUE(max_length_maps) << "no case maps a 2048-byte ID";
  EXPECT_TRUE(one_over_denied) << "no case denies a 2049-byte ID";
  EXPECT_EQ(denials, (std::set<std::string>{"foreign_trust_domain",
                                            "invalid_id", "unmapped"}));
}

}  // namespace
}  // namespace mayfly::bridge
