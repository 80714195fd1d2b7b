// Atomic writes, exact modes, private directories, and crash safety tested by
// killing a writer mid-write.
#include "identity/file_util.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

std::string TestDir(const std::string& name) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(EnsureDir(dir, 0755).ok());
  return dir;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

int EntriesIn(const std::string& dir) {
  const std::string cmd =
      absl::StrCat("test $(ls -A '", dir, "' | wc -l) -eq ");
  for (int n = 0; n < 100; ++n) {
    if (std::system(absl::StrCat(cmd, n).c_str()) == 0) return n;
  }
  return -1;
}

TEST(FileUtilTest, WritesExactContentAndModeWhateverTheUmask) {
  const std::string dir = TestDir("modes");
  for (mode_t umask_value : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    const mode_t old = umask(umask_value);
    for (mode_t mode : {kPrivateFileMode, kPublicFileMode}) {
      const std::string path = absl::StrCat(dir, "/f", mode, "_", umask_value);
      ASSERT_TRUE(WriteFileAtomically(path, "hello\n", mode).ok());
      EXPECT_EQ(*ReadFile(path), "hello\n");
      EXPECT_EQ(ModeOf(path), mode) << path;
    }
    umask(old);
  }
}

TEST(FileUtilTest, OverwritesAndLeavesNoTemporaryFiles) {
  const std::string dir = TestDir("overwrite");
  const std::string path = dir + "/key.pem";
  ASSERT_TRUE(WriteFileAtomically(path, "one", kPrivateFileMode).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two", kPrivateFileMode).ok());
  EXPECT_EQ(*ReadFile(path), "two");
  EXPECT_EQ(EntriesIn(dir), 1);
}

TEST(FileUtilTest, FailedWriteNamesThePathAndKeepsTheOldFile) {
  const std::string dir = TestDir("failed");
  EXPECT_THAT(
      WriteFileAtomically(dir + "/missing/f", "x", kPublicFileMode),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/missing/f")));
  const std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "old", kPublicFileMode).ok());
  // Writing to a directory path fails at rename; the old file is untouched.
  ASSERT_TRUE(EnsureDir(dir + "/d", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/d/x", "x", kPublicFileMode).ok());
  EXPECT_FALSE(WriteFileAtomically(dir + "/d", "new", kPublicFileMode).ok());
  EXPECT_EQ(*ReadFile(path), "old");
  EXPECT_EQ(EntriesIn(dir), 2);  // f and d: no temporary left behind.
}

TEST(FileUtilTest, ReadFileEnforcesItsLimit) {
  const std::string dir = TestDir("limit");
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/big", std::string(100, 'x'), 0644).ok());
  EXPECT_THAT(ReadFile(dir + "/big", 99),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("larger than the limit of 99 bytes")));
  EXPECT_EQ(ReadFile(dir + "/big", 100)->size(), 100u);
  EXPECT_THAT(ReadFile(dir + "/absent"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent")));
}

TEST(FileUtilTest, PrivateDirIsCreatedAndTightened) {
  const std::string dir = TestDir("private");
  ASSERT_TRUE(EnsurePrivateDir(dir + "/a/b/c").ok());
  EXPECT_EQ(ModeOf(dir + "/a/b/c"), 0700u);
  EXPECT_EQ(ModeOf(dir + "/a/b"), 0755u);
  ASSERT_EQ(chmod((dir + "/a/b").c_str(), 0755), 0);
  ASSERT_TRUE(EnsurePrivateDir(dir + "/a/b").ok());
  EXPECT_EQ(ModeOf(dir + "/a/b"), 0700u);
  ASSERT_TRUE(WriteFileAtomically(dir + "/file", "x", 0644).ok());
  EXPECT_THAT(EnsurePrivateDir(dir + "/file"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("exists and is not a directory")));
}

// A child rewrites one file over and over, alternating two 1 MiB contents;
// the parent SIGKILLs it at a random moment. Whatever the moment, the file
// must hold one of the two contents whole, with the right mode.
TEST(FileUtilTest, KilledWriterNeverLeavesATornFile) {
  const std::string dir = TestDir("crash");
  const std::string path = dir + "/svid_key.pem";
  const std::string a = "A-header\n" + std::string(1 << 20, 'A');
  const std::string b = "B-header\n" + std::string(1 << 20, 'B');
  ASSERT_TRUE(WriteFileAtomically(path, a, kPrivateFileMode).ok());

  std::mt19937 rng(20261124);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  constexpr int kIterations = 40;
  int saw_a = 0, saw_b = 0;
  for (int i = 0; i < kIterations; ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int n = 0;; ++n) {
        if (!WriteFileAtomically(path, n % 2 ? a : b, kPrivateFileMode).ok()) {
          _exit(3);
        }
      }
    }
    absl::SleepFor(absl::Microseconds(delay_us(rng)));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer failed before the kill";
    absl::StatusOr<std::string> content = ReadFile(path);
    ASSERT_TRUE(content.ok()) << content.status();
    ASSERT_TRUE(*content == a || *content == b)
        << "torn file of " << content->size() << " bytes at iteration " << i;
    (*content == a ? saw_a : saw_b)++;
    EXPECT_EQ(ModeOf(path), kPrivateFileMode);
  }
  EXPECT_EQ(saw_a + saw_b, kIterations);
  // Temporaries from killed writers may remain; none replaced the target.
  std::cerr << "crash test: " << saw_a << " A, " << saw_b << " B\n";
}

}  // namespace
}  // namespace mayfly::identity
