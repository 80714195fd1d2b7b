// The svid.pem / svid_key.pem / svid_bundle.pem / svid_keystore.pem set:
// names, modes, round trip, the keystore's contents, a key that does not match
// its certificate, the `..data` layout, migration from plain files, recovery
// from a crash, and a reader racing hundreds of switches
// (svid_files_swap_test.cc).
#include "identity/svid_files.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TrustDomain ExampleOrg() { return *TrustDomain::FromString("example.org"); }

X509Svid MintUnder(const Signer& root, const Clock& clock) {
  const Signer intermediate =
      *MintIntermediateCa({ExampleOrg(), absl::Hours(1)}, root, clock);
  return *MintX509Svid({*SpiffeId::FromString("spiffe://example.org/w")},
                       intermediate, clock);
}

// What the symlink at `path` points to; empty if it is not a symlink.
std::string LinkOf(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

class SvidFilesTest : public ::testing::Test {
 protected:
  SvidFilesTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/svid_",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        root_(*MintRootCa({ExampleOrg(), absl::Hours(1)}, clock_)),
        svid_(MintUnder(root_, clock_)),
        next_(MintUnder(root_, clock_)) {
    bundle_.push_back(ShareCert(root_.cert.get()));
  }

  FakeClock clock_;
  std::string dir_;
  Signer root_;
  X509Svid svid_;
  X509Svid next_;
  CertChain bundle_;
};

TEST_F(SvidFilesTest, WritesTheFourFilesAndReadsThemBack) {
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *svid_.key, bundle_).ok());
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/svid_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir_ + "/svid.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(*ReadFile(dir_ + "/svid.pem"), CertsToPem(svid_.chain));
  EXPECT_EQ(*ReadFile(dir_ + "/svid_bundle.pem"), CertsToPem(bundle_));
  EXPECT_EQ(*ReadFile(dir_ + "/svid_key.pem"),
            *PrivateKeyToPkcs8Pem(*svid_.key));
  // Kafka's PEM keystore: the key, then the leaf and its intermediate.
  ASSERT_EQ(stat((dir_ + "/svid_keystore.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(*ReadFile(dir_ + "/svid_keystore.pem"),
            *PrivateKeyToPkcs8Pem(*svid_.key) + CertsToPem(svid_.chain));

  absl::StatusOr<SvidFiles> read = ReadSvidFiles(dir_);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->chain.size(), 2u);
  EXPECT_EQ(X509_cmp(read->chain[0].get(), svid_.chain[0].get()), 0);
  EXPECT_EQ(EVP_PKEY_eq(read->key.get(), svid_.key.get()), 1);
  ASSERT_EQ(read->bundle.size(), 1u);
}

TEST_F(SvidFilesTest, ReadRefusesAKeyOfAnotherCertificate) {
  UniqueEvpPkey other = *GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *other, bundle_).ok());
  EXPECT_THAT(ReadSvidFiles(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("svid_key.pem does not hold the private key "
                                 "of " +
                                 dir_ + "/svid.pem")));
}

TEST_F(SvidFilesTest, ErrorsNameTheFile) {
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *svid_.key, bundle_).ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/..data/svid_bundle.pem", "junk", 0644).ok());
  EXPECT_THAT(ReadSvidFiles(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(dir_ + "/svid_bundle.pem: no")));
  EXPECT_THAT(WriteSvidFiles(dir_, CertChain(), *svid_.key, bundle_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty SVID chain")));
}

TEST_F(SvidFilesTest, NamesAreSymlinksIntoOneVersionDirectory) {
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *svid_.key, bundle_).ok());
  const std::string first = LinkOf(dir_ + "/..data");
  ASSERT_TRUE(WriteSvidFiles(dir_, next_.chain, *next_.key, bundle_).ok());
  const std::string version = LinkOf(dir_ + "/..data");
  EXPECT_THAT(version,
              MatchesRegex("\\.\\.[0-9]{4}(_[0-9]{2}){5}\\.[A-Za-z0-9]{6}"));
  EXPECT_NE(version, first);
  // The previous version is gone; nothing else is left behind.
  EXPECT_THAT(Entries(dir_),
              ElementsAre(version, "..data", "svid.pem", "svid_bundle.pem",
                          "svid_key.pem", "svid_keystore.pem"));
  EXPECT_THAT(Entries(dir_ + "/" + version),
              ElementsAre("svid.pem", "svid_bundle.pem", "svid_key.pem",
                          "svid_keystore.pem"));
  for (const char* name :
       {"svid.pem", "svid_key.pem", "svid_bundle.pem", "svid_keystore.pem"}) {
    EXPECT_EQ(LinkOf(dir_ + "/" + name), std::string("..data/") + name);
  }
  EXPECT_EQ(ModeOf(dir_ + "/" + version), 0755u);
  EXPECT_EQ(ModeOf(dir_ + "/" + version + "/svid_key.pem"), 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/" + version + "/svid_keystore.pem"), 0600u);
  EXPECT_EQ(*ReadFile(dir_ + "/svid.pem"), CertsToPem(next_.chain));
  EXPECT_EQ(*ReadFile(dir_ + "/svid_keystore.pem"),
            *PrivateKeyToPkcs8Pem(*next_.key) + CertsToPem(next_.chain));
  EXPECT_EQ(*ReadFile(dir_ + "/svid_key.pem"),
            *PrivateKeyToPkcs8Pem(*next_.key));
}

TEST_F(SvidFilesTest, MigratesPlainFilesOfAnOlderVersion) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/svid.pem", CertsToPem(svid_.chain), 0644)
          .ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/svid_key.pem",
                                  *PrivateKeyToPkcs8Pem(*svid_.key), 0600)
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/svid_bundle.pem", CertsToPem(bundle_), 0644)
          .ok());
  ASSERT_TRUE(WriteSvidFiles(dir_, next_.chain, *next_.key, bundle_).ok());
  const std::string version = LinkOf(dir_ + "/..data");
  EXPECT_THAT(Entries(dir_),
              ElementsAre(version, "..data", "svid.pem", "svid_bundle.pem",
                          "svid_key.pem", "svid_keystore.pem"));
  EXPECT_EQ(LinkOf(dir_ + "/svid_key.pem"), "..data/svid_key.pem");
  EXPECT_EQ(ModeOf(dir_ + "/svid_key.pem"), 0600u);
  absl::StatusOr<SvidFiles> read = ReadSvidFiles(dir_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(X509_cmp(read->chain[0].get(), next_.chain[0].get()), 0);
}

// A directory an earlier Mayfly switched through `..data` with three names
// only: the next write adds the keystore's link and switches all four.
TEST_F(SvidFilesTest, MigratesALinkedSetWithoutTheKeystore) {
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *svid_.key, bundle_).ok());
  const std::string old_version = LinkOf(dir_ + "/..data");
  ASSERT_EQ(unlink((dir_ + "/svid_keystore.pem").c_str()), 0);
  ASSERT_EQ(unlink((dir_ + "/" + old_version + "/svid_keystore.pem").c_str()),
            0);
  ASSERT_TRUE(WriteSvidFiles(dir_, next_.chain, *next_.key, bundle_).ok());
  const std::string version = LinkOf(dir_ + "/..data");
  EXPECT_THAT(Entries(dir_),
              ElementsAre(version, "..data", "svid.pem", "svid_bundle.pem",
                          "svid_key.pem", "svid_keystore.pem"));
  EXPECT_EQ(LinkOf(dir_ + "/svid_keystore.pem"), "..data/svid_keystore.pem");
  EXPECT_EQ(*ReadFile(dir_ + "/svid_keystore.pem"),
            *PrivateKeyToPkcs8Pem(*next_.key) + CertsToPem(next_.chain));
}

// What a crash can leave: a half-migrated directory (one name a symlink, the
// others plain), a temporary symlink never renamed, and a version directory
// never published. The next write cleans up and ends with one whole set.
TEST_F(SvidFilesTest, RecoversFromWhatACrashLeaves) {
  ASSERT_TRUE(WriteSvidFiles(dir_, svid_.chain, *svid_.key, bundle_).ok());
  ASSERT_EQ(unlink((dir_ + "/svid_key.pem").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/svid_key.pem",
                                  *PrivateKeyToPkcs8Pem(*svid_.key), 0600)
                  .ok());
  ASSERT_EQ(
      symlink("..2020_01_01_00_00_00.gone00", (dir_ + "/..data_tmp").c_str()),
      0);
  ASSERT_EQ(symlink("..data/svid.pem", (dir_ + "/..link_tmp").c_str()), 0);
  const std::string partial = dir_ + "/..2020_01_01_00_00_00.abcdef";
  ASSERT_EQ(mkdir(partial.c_str(), 0700), 0);
  ASSERT_TRUE(
      WriteFileAtomically(partial + "/svid.pem.tmp.123456", "x", 0644).ok());

  ASSERT_TRUE(WriteSvidFiles(dir_, next_.chain, *next_.key, bundle_).ok());
  const std::string version = LinkOf(dir_ + "/..data");
  EXPECT_THAT(Entries(dir_),
              ElementsAre(version, "..data", "svid.pem", "svid_bundle.pem",
                          "svid_key.pem", "svid_keystore.pem"));
  EXPECT_EQ(LinkOf(dir_ + "/svid_key.pem"), "..data/svid_key.pem");
  absl::StatusOr<SvidFiles> read = ReadSvidFiles(dir_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(X509_cmp(read->chain[0].get(), next_.chain[0].get()), 0);
}

}  // namespace
}  // namespace mayfly::identity
