// The shared policy load vectors (bridge/testdata/policy_errors.yaml)
// against the C++ loader: each case is refused with exactly its message,
// or loads with exactly its brokers. The Java plugin passes the same file
// (PolicyVectorsTest.java).
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/policy.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/spiffe_id.h"
#include "identity/yaml_reader.h"

namespace mayfly::bridge {
namespace {

std::string TestData(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/bridge/testdata/", name);
}

std::vector<std::string> Scalars(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node) return out;
  for (const YAML::Node& item : node) out.push_back(item.Scalar());
  return out;
}

TEST(PolicyVectorsTest, EveryCaseLoadsAsWritten) {
  const std::string path = TestData("policy_errors.yaml");
  absl::StatusOr<std::string> text = identity::ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<YAML::Node> root = identity::LoadYaml(*text, path);
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_TRUE(identity::YamlReader(path).CheckKeys(*root, "", {"cases"}).ok());
  const YAML::Node cases = (*root)["cases"];
  ASSERT_TRUE(cases.IsSequence());
  int errors = 0;
  int loads = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const YAML::Node c = cases[i];
    SCOPED_TRACE(absl::StrCat("cases[", i, "] at line ", c.Mark().line + 1));
    ASSERT_TRUE(identity::YamlReader(path)
                    .CheckKeys(c, "case",
                               {"policy", "error", "brokers", "broker_ids",
                                "not_broker_ids"})
                    .ok());
    ASSERT_TRUE(c["policy"] &&
                (c["error"] ? 1 : 0) + (c["brokers"] ? 1 : 0) == 1)
        << "want policy and one of error, brokers";
    absl::StatusOr<Policy> policy =
        Policy::Parse(c["policy"].Scalar(), "p.yaml");
    if (c["error"]) {
      ++errors;
      if (policy.ok()) {
        ADD_FAILURE() << "loaded; want " << c["error"].Scalar();
        continue;
      }
      EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(std::string(policy.status().message()), c["error"].Scalar());
      continue;
    }
    ++loads;
    if (!policy.ok()) {
      ADD_FAILURE() << policy.status();
      continue;
    }
    std::vector<std::string> brokers;
    for (const identity::SpiffeIdPattern& p : policy->brokers()) {
      brokers.push_back(p.ToString());
    }
    EXPECT_EQ(brokers, Scalars(c["brokers"]));
    for (const std::string& id : Scalars(c["broker_ids"])) {
      EXPECT_TRUE(policy->IsBroker(*identity::SpiffeId::FromString(id))) << id;
    }
    for (const std::string& id : Scalars(c["not_broker_ids"])) {
      EXPECT_FALSE(policy->IsBroker(*identity::SpiffeId::FromString(id))) << id;
    }
  }
  // Both kinds stay in the file.
  EXPECT_GE(errors, 10);
  EXPECT_GE(loads, 3);
}

TEST(PolicyVectorsTest, RequireBrokersNamesTheField) {
  absl::StatusOr<Policy> without =
      Policy::Parse("trust_domains: [prod.acme]\nprincipals: []\n", "p.yaml");
  ASSERT_TRUE(without.ok()) << without.status();
  const absl::Status s = without->RequireBrokers("mayfly bridge plan");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "brokers: required by mayfly bridge plan: list the SPIFFE IDs the "
            "brokers present, like brokers: [spiffe://prod.acme/kafka/*] "
            "(every SVID may serve TLS, so without it any workload could pose "
            "as a broker)");
  absl::StatusOr<Policy> with = Policy::Parse(
      "trust_domains: [prod.acme]\nbrokers: [spiffe://prod.acme/kafka/*]\n"
      "principals: []\n",
      "p.yaml");
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(with->RequireBrokers("mayfly bridge plan").ok());
}

}  // namespace
}  // namespace mayfly::bridge
