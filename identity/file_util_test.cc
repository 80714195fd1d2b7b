// Atomic writes, exact modes, private directories, the trusted-directory
// checks, and crash safety tested by killing a writer mid-write.
#include "identity/file_util.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// uid 65534 is "nobody": some other local user.
constexpr uid_t kOtherUid = 65534;

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

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir;
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

int EntriesIn(const std::string& dir) {
  return static_cast<int>(Entries(dir).size());
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

TEST(FileUtilTest, PrivateDirRefusesWhatItMustNotTighten) {
  const std::string dir = TestDir("private_refused");
  ASSERT_TRUE(EnsureDir(dir + "/open", 0777).ok());
  EXPECT_THAT(EnsurePrivateDir(dir + "/open"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is writable by group or others")));
  EXPECT_EQ(ModeOf(dir + "/open"), 0777u);  // Refused, not silently fixed.
}

TEST(FileUtilTest, TrustedDirAcceptsOwnPrivateAndPublicDirs) {
  const std::string dir = TestDir("trusted_good");
  ASSERT_TRUE(EnsureDir(dir + "/private", 0700).ok());
  ASSERT_TRUE(EnsureDir(dir + "/public", 0755).ok());
  EXPECT_TRUE(CheckTrustedDir(dir + "/private").ok());
  EXPECT_TRUE(CheckTrustedDir(dir + "/public/").ok());
  EXPECT_TRUE(CheckTrustedDir("/").ok());
  // A sticky world-writable ancestor (like /tmp) cannot be used to swap
  // our entry in it, so it does not taint what lies below.
  ASSERT_TRUE(EnsureDir(dir + "/sticky", 01777).ok());
  ASSERT_TRUE(EnsureDir(dir + "/sticky/mine", 0700).ok());
  EXPECT_TRUE(CheckTrustedDir(dir + "/sticky/mine").ok());
  // A root-owned symlink among the ancestors is fine (/var/run -> /run).
  ASSERT_EQ(symlink((dir + "/public").c_str(), (dir + "/via").c_str()), 0);
  ASSERT_TRUE(EnsureDir(dir + "/public/sock", 0755).ok());
  EXPECT_TRUE(CheckTrustedDir(dir + "/via/sock").ok());
}

TEST(FileUtilTest, TrustedDirRefusesAnotherOwner) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string dir = TestDir("trusted_owner");
  ASSERT_TRUE(EnsureDir(dir + "/theirs/sub", 0755).ok());
  ASSERT_EQ(chown((dir + "/theirs").c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CheckTrustedDir(dir + "/theirs"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("directory " + dir + "/theirs"),
                             HasSubstr("is owned by another user"),
                             HasSubstr("owner uid 65534, mode 0755"),
                             HasSubstr("expected owner uid 0"))));
  // Below it, their directory is an ancestor: they can rename ours away.
  EXPECT_THAT(CheckTrustedDir(dir + "/theirs/sub"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("ancestor of " + dir + "/theirs/sub"),
                             HasSubstr("owner uid 65534"))));
  EXPECT_THAT(EnsurePrivateDir(dir + "/theirs"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is owned by another user")));
  // Refused before creating anything beneath their directory (the
  // non-root default /tmp/mayfly-agent-UID/public planted by someone else).
  EXPECT_THAT(EnsureTrustedDir(dir + "/theirs/public", 0755),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(dir + "/theirs is owned by another"),
                             HasSubstr("ancestor of " + dir + "/theirs/public"),
                             HasSubstr("owner uid 65534"))));
  EXPECT_FALSE(PathExists(dir + "/theirs/public"));
}

TEST(FileUtilTest, TrustedDirRefusesGroupOrOtherWrite) {
  const std::string dir = TestDir("trusted_mode");
  for (mode_t mode : {mode_t{0770}, mode_t{0702}, mode_t{01777}}) {
    const std::string path = absl::StrFormat("%s/m%o", dir, mode);
    ASSERT_TRUE(EnsureDir(path, mode).ok());
    EXPECT_THAT(CheckTrustedDir(path),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         AllOf(HasSubstr("directory " + path),
                               HasSubstr("is writable by group or others"),
                               HasSubstr("chmod go-w " + path))))
        << "mode " << mode;
  }
  // Not sticky: anyone can rename our directory away and put theirs.
  ASSERT_TRUE(EnsureDir(dir + "/m770/mine", 0700).ok());
  EXPECT_THAT(CheckTrustedDir(dir + "/m770/mine"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("ancestor of " + dir + "/m770/mine")));
}

TEST(FileUtilTest, TrustedDirRefusesSymlinks) {
  const std::string dir = TestDir("trusted_link");
  ASSERT_TRUE(EnsureDir(dir + "/real/sub", 0700).ok());
  ASSERT_EQ(symlink((dir + "/real").c_str(), (dir + "/link").c_str()), 0);
  EXPECT_THAT(CheckTrustedDir(dir + "/link"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("directory " + dir + "/link"),
                             HasSubstr("is a symbolic link"))));
  if (geteuid() != 0) return;
  // Another user's link among the ancestors: they can re-point it.
  ASSERT_EQ(lchown((dir + "/link").c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CheckTrustedDir(dir + "/link/sub"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(dir + "/link"),
                             HasSubstr("is owned by another user"))));
  // Our own link to their directory: checked where it leads.
  ASSERT_TRUE(EnsureDir(dir + "/other/sub", 0700).ok());
  ASSERT_EQ(chown((dir + "/other").c_str(), kOtherUid, kOtherUid), 0);
  ASSERT_EQ(symlink((dir + "/other").c_str(), (dir + "/mylink").c_str()), 0);
  EXPECT_THAT(
      CheckTrustedDir(dir + "/mylink/sub"),
      StatusIs(absl::StatusCode::kPermissionDenied,
               AllOf(HasSubstr(dir + "/other"), HasSubstr("owner uid 65534"))));
}

TEST(FileUtilTest, TrustedFileChecksOwnerModeAndType) {
  const std::string dir = TestDir("trusted_file");
  const std::string key = dir + "/key.pem";
  ASSERT_TRUE(WriteFileAtomically(key, "k", kPrivateFileMode).ok());
  EXPECT_TRUE(CheckTrustedFile(key, /*private_file=*/true).ok());
  ASSERT_EQ(chmod(key.c_str(), 0640), 0);
  EXPECT_TRUE(CheckTrustedFile(key, /*private_file=*/false).ok());
  EXPECT_THAT(CheckTrustedFile(key, /*private_file=*/true),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("key file " + key),
                             HasSubstr("mode 0640"), HasSubstr("chmod 600"))));
  ASSERT_EQ(chmod(key.c_str(), 0646), 0);
  EXPECT_THAT(CheckTrustedFile(key, /*private_file=*/false),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is writable by group or others")));
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  ASSERT_EQ(symlink(key.c_str(), (dir + "/link.pem").c_str()), 0);
  EXPECT_THAT(CheckTrustedFile(dir + "/link.pem", /*private_file=*/true),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("is not a regular file")));
  if (geteuid() != 0) return;
  ASSERT_EQ(chown(key.c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CheckTrustedFile(key, /*private_file=*/true),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("file " + key),
                             HasSubstr("is owned by another user"),
                             HasSubstr("owner uid 65534"))));
}

// Run as "nobody": its own directories and root's are trusted, a third
// user's are not. (As root the two trusted owners are the same uid.) Under
// /tmp, because nobody cannot search TEST_TMPDIR's ancestors.
TEST(FileUtilTest, TrustedDirAcceptsRootOwnedForAnotherUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to change uid";
  char tmpl[] = "/tmp/mayfly_trust_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  ASSERT_TRUE(EnsureDir(dir + "/root", 0755).ok());
  ASSERT_TRUE(EnsureDir(dir + "/mine", 0700).ok());
  ASSERT_TRUE(EnsureDir(dir + "/third", 0755).ok());
  ASSERT_EQ(chown((dir + "/mine").c_str(), kOtherUid, kOtherUid), 0);
  ASSERT_EQ(chown((dir + "/third").c_str(), kOtherUid - 1, kOtherUid), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setresuid(kOtherUid, kOtherUid, kOtherUid) != 0) _exit(10);
    for (const char* good : {"/root", "/mine"}) {
      const absl::Status s = CheckTrustedDir(dir + good);
      if (!s.ok()) {
        std::cerr << s << "\n";
        _exit(11);
      }
    }
    const absl::Status third = CheckTrustedDir(dir + "/third");
    std::cerr << third << "\n";
    if (third.code() != absl::StatusCode::kPermissionDenied) _exit(13);
    if (!absl::StrContains(third.message(), "expected owner uid 65534")) {
      _exit(14);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(std::system(absl::StrCat("rm -rf '", dir, "'").c_str()), 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the _exit codes in the child";
}

bool IsTemporaryOf(const std::string& name, const std::string& base) {
  return name.rfind(base + ".tmp.", 0) == 0;
}

// A child rewrites one file over and over, alternating two 1 MiB contents;
// the parent SIGKILLs it at a random moment. Whatever the moment, the file
// must hold one of the two contents whole, with the right mode. A temporary
// left behind proves that kill landed mid-write (after the temporary was
// created, before the rename): at least some must, or the test proves
// nothing.
TEST(FileUtilTest, KilledWriterNeverLeavesATornFile) {
  const std::string dir = TestDir("crash");
  const std::string base = "svid_key.pem";
  const std::string path = dir + "/" + base;
  const std::string a = "A-header\n" + std::string(1 << 20, 'A');
  const std::string b = "B-header\n" + std::string(1 << 20, 'B');
  ASSERT_TRUE(WriteFileAtomically(path, a, kPrivateFileMode).ok());

  std::mt19937 rng(20261124);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  constexpr int kIterations = 40;
  int saw_a = 0, saw_b = 0, mid_write = 0;
  for (int i = 0; i < kIterations; ++i) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(ready[0]);
      for (int n = 0;; ++n) {
        if (!WriteFileAtomically(path, n % 2 ? a : b, kPrivateFileMode).ok()) {
          _exit(3);
        }
        // One whole write done: from now on a kill interrupts a rewrite.
        if (n == 0 && (write(ready[1], "r", 1) != 1 || close(ready[1]) != 0)) {
          _exit(4);
        }
      }
    }
    close(ready[1]);
    char byte;
    ASSERT_EQ(read(ready[0], &byte, 1), 1) << "writer died before writing";
    close(ready[0]);
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
    bool interrupted = false;
    for (const std::string& name : Entries(dir)) {
      if (!IsTemporaryOf(name, base)) continue;
      interrupted = true;
      ASSERT_EQ(unlink((dir + "/" + name).c_str()), 0);
    }
    mid_write += interrupted ? 1 : 0;
  }
  std::cerr << "crash test: " << saw_a << " A, " << saw_b << " B, " << mid_write
            << " kills mid-write of " << kIterations << "\n";
  // Writing 1 MiB and fsyncing it is most of each rewrite; far fewer than a
  // quarter landing there means the kills are not testing what we think.
  EXPECT_GE(mid_write, kIterations / 4);
  // Both contents seen: the kills landed at different points of the cycle.
  EXPECT_GT(saw_a, 0);
  EXPECT_GT(saw_b, 0);
  EXPECT_EQ(Entries(dir), std::vector<std::string>{base});
}

}  // namespace
}  // namespace mayfly::identity
