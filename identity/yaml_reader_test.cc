// The YAML reader: a key given twice at any depth and a second document are
// refused with FILE:LINE, and every typed read names file, line and field.
#include "identity/yaml_reader.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"
#include "identity/yaml_strict.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::StartsWith;

// The whole message, exactly: these strings are what an operator reads.
absl::Status LoadError(const std::string& yaml) {
  return LoadYaml(yaml, "cfg.yaml").status();
}
MATCHER_P(Invalid, message, "") {
  return ::testing::ExplainMatchResult(
      StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)), arg,
      result_listener);
}

TEST(LoadYamlTest, ReadsOneDocument) {
  auto root = LoadYaml("a: 1\nb: {c: [x, y]}\n", "cfg.yaml");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ((*root)["a"].Scalar(), "1");
  EXPECT_EQ((*root)["b"]["c"][1].Scalar(), "y");
  // An explicit start and end mark one document, not two.
  EXPECT_TRUE(LoadYaml("---\na: 1\n...\n", "cfg.yaml").ok());
}

TEST(LoadYamlTest, DuplicateTopLevelKey) {
  EXPECT_THAT(LoadError("a: 1\nb: 2\na: 3\n"),
              Invalid("cfg.yaml:3: a: key given twice (first at line 1)"));
}

TEST(LoadYamlTest, DuplicateNestedKey) {
  EXPECT_THAT(
      LoadError("outer:\n  x: 1\n  inner:\n    y: 1\n    y: 2\n"),
      Invalid("cfg.yaml:5: outer.inner.y: key given twice (first at line 4)"));
}

TEST(LoadYamlTest, DuplicateKeyInAListItem) {
  EXPECT_THAT(
      LoadError("items:\n  - a: 1\n  - a: 1\n    b: 2\n    a: 3\n"),
      Invalid("cfg.yaml:5: items[1].a: key given twice (first at line 3)"));
}

TEST(LoadYamlTest, DuplicateKeyInAFlowMapping) {
  EXPECT_THAT(LoadError("m: {k: 1, j: 2, k: 3}\n"),
              Invalid("cfg.yaml:1: m.k: key given twice (first at line 1)"));
}

TEST(LoadYamlTest, QuotedAndPlainKeysAreTheSameKey) {
  EXPECT_THAT(LoadError("\"a\": 1\na: 2\n"),
              Invalid("cfg.yaml:2: a: key given twice (first at line 1)"));
}

TEST(LoadYamlTest, SameKeyInDifferentMappingsIsFine) {
  EXPECT_TRUE(
      LoadYaml("a: {x: 1}\nb: {x: 2}\nl:\n  - x: 1\n  - x: 2\n", "cfg.yaml")
          .ok());
}

// Anchors and aliases are outside the subset (yaml_strict.h): a nest of
// aliases that would be 10^8 nodes as a tree is refused at its first
// anchor, before anything is built.
TEST(LoadYamlTest, AnchorsAndAliasesRefused) {
  std::string yaml = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i) {
    absl::StrAppend(&yaml, "l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j)
      absl::StrAppend(&yaml, j ? ", " : "", "*l", i - 1);
    absl::StrAppend(&yaml, "]\n");
  }
  EXPECT_THAT(LoadError(yaml),
              Invalid("cfg.yaml:1: an anchor (&) is not allowed in a config"));
  EXPECT_THAT(LoadError("a: x\nb: *a\n"),
              Invalid("cfg.yaml:2: an alias (*) is not allowed in a config"));
}

// The agent's config goes through the same subset as the policy: a line
// break that only SnakeYAML sees is refused, not read as part of a comment.
TEST(LoadYamlTest, LineBreaksOnlyYaml11SeesRefused) {
  EXPECT_THAT(LoadError("a: 1\n# note\xe2\x80\xa8"
                        "b: 2\n"),
              Invalid("cfg.yaml:2: character U+2028 not allowed (a config is "
                      "printable UTF-8, lines end in \\n or \\r\\n, no "
                      "tabs)"));
}

std::string NestedLists(int depth) {
  return "a: " + std::string(depth - 1, '[') + std::string(depth - 1, ']') +
         "\n";
}

TEST(LoadYamlTest, NestingOverTheLimitRefused) {
  EXPECT_TRUE(LoadYaml(NestedLists(kMaxYamlDepth), "cfg.yaml").ok());
  EXPECT_THAT(
      LoadError(NestedLists(kMaxYamlDepth + 1)),
      Invalid("cfg.yaml:1: nested deeper than 32 levels, the most a config "
              "may nest"));
  // Far past yaml-cpp's own recursion guard: still our message.
  EXPECT_THAT(
      LoadError(NestedLists(100000)),
      Invalid("cfg.yaml:1: nested deeper than 32 levels, the most a config "
              "may nest"));
}

TEST(LoadYamlTest, SizeOverTheLimitRefused) {
  std::string yaml = "a: 1\n";
  yaml.append(kMaxYamlBytes - yaml.size() - 1, '#');
  yaml += "\n";
  EXPECT_TRUE(LoadYaml(yaml, "cfg.yaml").ok());
  EXPECT_THAT(LoadError(yaml + "\n"),
              Invalid("cfg.yaml: larger than 1048576 bytes, the most a config "
                      "may be"));
}

// What the limits leave: the largest input, as wide as it can be or nested
// as deep as it may with long keys, is read in time and memory linear in
// it. (The checker used to copy each node's full path into every open
// frame: 238 MB of memory for 480 KB of nested 1 KB keys.) The bound is
// loose, for a debug build on a busy machine; quadratic work would blow it.
TEST(LoadYamlTest, LargestInputsLoadInBoundedTime) {
  const std::string key(1000, 'k');
  std::string deep;
  for (int i = 0; deep.size() < kMaxYamlBytes - 40000; ++i) {
    absl::StrAppend(&deep, "d", i, ": ");
    for (int level = 1; level < kMaxYamlDepth; ++level)
      absl::StrAppend(&deep, "{", key, ": ");
    absl::StrAppend(&deep, "v", std::string(kMaxYamlDepth - 1, '}'), "\n");
  }
  std::string wide;
  for (int i = 0; wide.size() < kMaxYamlBytes - 100; ++i) {
    absl::StrAppend(&wide, "k", i, ": {a: [x, y], b: v}\n");
  }
  for (const std::string* yaml : {&deep, &wide}) {
    ASSERT_LE(yaml->size(), kMaxYamlBytes);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<YAML::Node> root = LoadYaml(*yaml, "cfg.yaml");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(root.ok()) << root.status();
    EXPECT_LT(elapsed, std::chrono::seconds(30));
  }
}

// Text yaml-cpp reads and SnakeYAML (rightly) does not: refused here as
// the syntax errors they are, so the broker and the bridge agree.
TEST(LoadYamlTest, WhereYamlCppIsLaxItIsMadeStrict) {
  EXPECT_THAT(LoadError("a:\n[x]\n"),
              Invalid("cfg.yaml:2: not valid YAML: a value below its key must "
                      "be indented more than the key"));
  EXPECT_TRUE(LoadYaml("a:\n- x\nb:\n  [x]\n", "cfg.yaml").ok());
  EXPECT_THAT(LoadError("a: b\nc: 'x: y\n"),
              Invalid("cfg.yaml:2: not valid YAML: the text ends inside a "
                      "quoted scalar"));
  EXPECT_THAT(LoadError("a: \"x\\\"\n"),
              Invalid("cfg.yaml:1: not valid YAML: the text ends inside a "
                      "quoted scalar"));
  EXPECT_TRUE(LoadYaml("a: 'it''s'\nb: \"q\\\"\"\n", "cfg.yaml").ok());
  // And the other way round: SnakeYAML reads "{a:[b]}" as a: [b]; yaml-cpp
  // refuses it, and so does the plugin (YamlStrict).
  EXPECT_THAT(LoadError("m: {a:[b]}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("cfg.yaml:1: not valid YAML: ")));
}

TEST(LoadYamlTest, SecondDocumentRefused) {
  EXPECT_THAT(LoadError("a: 1\n---\nb: 2\n"),
              Invalid("cfg.yaml:2: a second YAML document (after ---); a "
                      "config is one document"));
}

TEST(LoadYamlTest, SyntaxErrorNamesTheLine) {
  EXPECT_THAT(LoadError("a: 1\nb: [x]]\nc: 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("cfg.yaml:2: not valid YAML: ")));
}

class YamlReaderTest : public ::testing::Test {
 protected:
  YAML::Node Load(const std::string& yaml) {
    auto root = LoadYaml(yaml, "cfg.yaml");
    EXPECT_TRUE(root.ok()) << root.status();
    return root.ok() ? *root : YAML::Node();
  }
  const YamlReader r_{"cfg.yaml"};
};

TEST_F(YamlReaderTest, StringWantsAScalar) {
  YAML::Node root = Load("a: x\nb:\n  c: 1\n");
  EXPECT_EQ(*r_.String(root["a"], "a"), "x");
  EXPECT_THAT(r_.String(root["b"], "b"),
              Invalid("cfg.yaml:3: b: want a string"));
}

TEST_F(YamlReaderTest, DurationQuotesTheRule) {
  YAML::Node root = Load("ok: 90s\nbad: 5 min\n");
  EXPECT_EQ(*r_.Duration(root["ok"], "ok"), absl::Seconds(90));
  EXPECT_THAT(r_.Duration(root["bad"], "bad"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("cfg.yaml:2: bad: ")));
}

TEST_F(YamlReaderTest, IntegerInRange) {
  YAML::Node root = Load("n: 7\nbig: 11\nword: seven\n");
  EXPECT_EQ(*r_.Integer(root["n"], "n", 1, 10), 7);
  EXPECT_THAT(r_.Integer(root["big"], "x.big", 1, 10),
              Invalid("cfg.yaml:2: x.big: \"11\": want a whole number from 1 "
                      "to 10"));
  EXPECT_THAT(r_.Integer(root["word"], "word", 1, 10),
              Invalid("cfg.yaml:3: word: \"seven\": want a whole number from "
                      "1 to 10"));
}

TEST_F(YamlReaderTest, PositiveNumberRefusesZeroNanAndInf) {
  YAML::Node root = Load("r: 2.5\nz: 0\nn: nan\ni: inf\n");
  EXPECT_EQ(*r_.PositiveNumber(root["r"], "r"), 2.5);
  EXPECT_THAT(r_.PositiveNumber(root["z"], "z"),
              Invalid("cfg.yaml:2: z: \"0\": want a number above 0"));
  EXPECT_THAT(r_.PositiveNumber(root["n"], "n"),
              Invalid("cfg.yaml:3: n: \"nan\": want a number above 0"));
  EXPECT_THAT(r_.PositiveNumber(root["i"], "i"),
              Invalid("cfg.yaml:4: i: \"inf\": want a number above 0"));
}

TEST_F(YamlReaderTest, StringsNamesTheItem) {
  YAML::Node root = Load("l: [a, b]\nbad:\n  - a\n  - {k: v}\nnot: x\n");
  auto l = r_.Strings(root["l"], "l");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ((*l)[1].second, "b");
  EXPECT_THAT(r_.Strings(root["bad"], "bad"),
              Invalid("cfg.yaml:4: bad[1]: want a string"));
  EXPECT_THAT(r_.Strings(root["not"], "not"),
              Invalid("cfg.yaml:5: not: want a list"));
}

TEST_F(YamlReaderTest, CheckKeysNamesTheUnknownOne) {
  YAML::Node root = Load("a: 1\nsub:\n  b: 2\n  typo: 3\n");
  EXPECT_TRUE(r_.CheckKeys(root, "", {"a", "sub"}).ok());
  EXPECT_THAT(r_.CheckKeys(root["sub"], "sub", {"a", "b"}),
              Invalid("cfg.yaml:4: sub.typo: unknown key (known: a, b)"));
  EXPECT_THAT(r_.CheckKeys(root["a"], "a", {"x"}),
              Invalid("cfg.yaml:1: a: want a map of keys"));
}

}  // namespace
}  // namespace mayfly::identity
