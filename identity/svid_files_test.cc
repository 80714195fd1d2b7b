// The svid.pem / svid_key.pem / svid_bundle.pem triple: names, modes, round
// trip, and a key that does not match its certificate.
#include "identity/svid_files.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

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
using ::testing::HasSubstr;

TrustDomain root_td() { return *TrustDomain::FromString("example.org"); }

TrustDomain ExampleOrg() { return *TrustDomain::FromString("example.org"); }

X509Svid MintUnder(const Signer& root, const Clock& clock) {
  const Signer intermediate =
      *MintIntermediateCa({ExampleOrg(), absl::Hours(1)}, root, clock);
  return *MintX509Svid({*SpiffeId::FromString("spiffe://example.org/w")},
                       intermediate, clock);
}

class SvidFilesTest : public ::testing::Test {
 protected:
  SvidFilesTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/svid_",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        root_(*MintRootCa({ExampleOrg(), absl::Hours(1)}, clock_)),
        svid_(MintUnder(root_, clock_)) {
    bundle_.push_back(ShareCert(root_.cert.get()));
  }

  FakeClock clock_;
  std::string dir_;
  Signer root_;
  X509Svid svid_;
  CertChain bundle_;
};

TEST_F(SvidFilesTest, WritesTheThreeFilesAndReadsThemBack) {
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
      WriteFileAtomically(dir_ + "/svid_bundle.pem", "junk", 0644).ok());
  EXPECT_THAT(ReadSvidFiles(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(dir_ + "/svid_bundle.pem: no")));
  EXPECT_THAT(WriteSvidFiles(dir_, CertChain(), *svid_.key, bundle_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty SVID chain")));
}

}  // namespace
}  // namespace mayfly::identity
