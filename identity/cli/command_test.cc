// The command registry: groups listed in name order, the longest matching
// command chosen, and a command registered twice reported.
#include "identity/cli/command.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mayfly::cli {
namespace {

using ::testing::ElementsAre;

int Zero(const std::vector<std::string>&) { return 0; }
int One(const std::vector<std::string>&) { return 1; }

std::vector<std::string> Words(const CommandRegistry& registry) {
  std::vector<std::string> words;
  for (const Command& c : registry.Commands()) words.push_back(c.words);
  return words;
}

TEST(CommandRegistryTest, ListsGroupsInNameOrder) {
  CommandRegistry registry;
  registry.AddGroup("svid",
                    {{"svid mint", "", Zero}, {"svid verify", "", Zero}});
  registry.AddGroup("bridge", {{"bridge plan", "", Zero}});
  registry.AddGroup("id", {{"id check", "", Zero}});
  EXPECT_THAT(Words(registry), ElementsAre("bridge plan", "id check",
                                           "svid mint", "svid verify"));
  EXPECT_TRUE(registry.Conflicts().empty());
}

TEST(CommandRegistryTest, FindsTheLongestMatch) {
  CommandRegistry registry;
  registry.AddGroup("kafka", {{"kafka", "", Zero}, {"kafka acl", "", One}});
  const Command* found = registry.Find({"kafka", "acl", "--x"});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->words, "kafka acl");
  found = registry.Find({"kafka", "topics"});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->words, "kafka");
  EXPECT_EQ(registry.Find({"ka"}), nullptr);
  EXPECT_EQ(registry.Find({}), nullptr);
}

TEST(CommandRegistryTest, ReportsACommandRegisteredTwice) {
  CommandRegistry registry;
  registry.AddGroup("ca", {{"ca init", "", Zero}});
  registry.AddGroup("other", {{"ca init", "", One}});
  EXPECT_THAT(registry.Conflicts(), ElementsAre("ca init"));
}

}  // namespace
}  // namespace mayfly::cli
