// The on-disk CA: exact files and modes, load checks, and intermediates.
#include "identity/ca.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/root_rotation.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_verify.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class CaTest : public ::testing::Test {
 protected:
  CaTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*TrustDomain::FromString("example.org")),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/ca_",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    const std::string cmd = absl::StrCat("rm -rf '", dir_, "'");
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }

  std::unique_ptr<CertificateAuthority> Create(
      KeyType type = KeyType::kEcP256) {
    auto ca = CertificateAuthority::Create(dir_, {td_, type, absl::Hours(48)},
                                           clock_);
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? std::move(*ca) : nullptr;
  }
  std::string File(absl::string_view name) const {
    return absl::StrCat(dir_, "/", name);
  }

  FakeClock clock_;
  TrustDomain td_;
  std::string dir_;
};

TEST_F(CaTest, CreateWritesExactFilesAndModes) {
  auto ca = Create();
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(File(kRootKeyFile)), 0600u);
  EXPECT_EQ(ModeOf(File(kRootCertFile)), 0644u);
  EXPECT_EQ(ModeOf(File(kBundleFile)), 0644u);
  EXPECT_EQ(*ReadFile(File(kTrustDomainFile)), "example.org\n");
  EXPECT_EQ(*ReadFile(File(kBundleFile)), ca->bundle().ToPem());
  X509& root = *ca->root().cert;
  EXPECT_TRUE(ca->root().IsRoot());
  EXPECT_EQ(X509_check_ca(&root), 1);
  EXPECT_THAT(UriSans(root), ElementsAre("spiffe://example.org"));
  EXPECT_EQ(CertNotAfter(root), clock_.Now() + absl::Hours(48));
  EXPECT_EQ(ca->trust_domain(), td_);
}

TEST_F(CaTest, CreateTwiceIsRefused) {
  Create();
  EXPECT_THAT(CertificateAuthority::Create(dir_, {td_}, clock_),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("a CA already exists in " + dir_)));
}

TEST_F(CaTest, LoadReturnsTheSameRootAndBundle) {
  auto created = Create();
  auto loaded = CertificateAuthority::Load(dir_, clock_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->trust_domain(), td_);
  EXPECT_EQ(X509_cmp((*loaded)->root().cert.get(), created->root().cert.get()),
            0);
  EXPECT_EQ(EVP_PKEY_eq((*loaded)->root().key.get(), created->root().key.get()),
            1);
  EXPECT_EQ((*loaded)->bundle().ToPem(), created->bundle().ToPem());
}

TEST_F(CaTest, LoadRefusesAKeyReadableByOthers) {
  Create();
  ASSERT_EQ(chmod(File(kRootKeyFile).c_str(), 0644), 0);
  EXPECT_THAT(
      CertificateAuthority::Load(dir_, clock_),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("chmod 600")));
}

// uid 65534 is "nobody": some other local user.
constexpr uid_t kOtherUid = 65534;

// A key another user wrote, for example while the directory was writable:
// signing with it would serve their root and honour SVIDs they minted.
TEST_F(CaTest, LoadRefusesAPlantedKeyOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Create();
  ASSERT_EQ(chown(File(kRootKeyFile).c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(File(kRootKeyFile)),
                             HasSubstr("is owned by another user"),
                             HasSubstr("owner uid 65534"))));
}

TEST_F(CaTest, LoadRefusesABundleOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Create();
  ASSERT_EQ(chown(File(kBundleFile).c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(File(kBundleFile)),
                             HasSubstr("owner uid 65534"))));
}

TEST_F(CaTest, LoadRefusesADirectoryOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Create();
  ASSERT_EQ(chown(dir_.c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("directory " + dir_),
                             HasSubstr("is owned by another user"))));
}

TEST_F(CaTest, LoadRefusesAGroupWritableKeyOrDirectory) {
  Create();
  ASSERT_EQ(chmod(File(kRootKeyFile).c_str(), 0620), 0);
  EXPECT_THAT(
      CertificateAuthority::Load(dir_, clock_),
      StatusIs(absl::StatusCode::kPermissionDenied,
               AllOf(HasSubstr(File(kRootKeyFile)), HasSubstr("mode 0620"))));
  ASSERT_EQ(chmod(File(kRootKeyFile).c_str(), 0600), 0);
  ASSERT_EQ(chmod(File(kRootCertFile).c_str(), 0664), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(File(kRootCertFile)),
                             HasSubstr("writable by group or others"))));
  ASSERT_EQ(chmod(File(kRootCertFile).c_str(), 0644), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0770), 0);
  EXPECT_THAT(
      CertificateAuthority::Load(dir_, clock_),
      StatusIs(absl::StatusCode::kPermissionDenied,
               AllOf(HasSubstr("directory " + dir_), HasSubstr("mode 0770"))));
  ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
  EXPECT_TRUE(CertificateAuthority::Load(dir_, clock_).ok());
}

// A staged next root becomes the root on Promote: one planted by another
// user is refused before anything renames it into place.
TEST_F(CaTest, RotationRefusesAPlantedNextRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Create();
  const std::string next = File(kNextRootKeyFile);
  ASSERT_TRUE(
      WriteFileAtomically(next, *ReadFile(File(kRootKeyFile)), kPrivateFileMode)
          .ok());
  ASSERT_TRUE(InspectRootRotation(dir_).ok());
  ASSERT_EQ(chown(next.c_str(), kOtherUid, kOtherUid), 0);
  EXPECT_THAT(InspectRootRotation(dir_).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr(next), HasSubstr("owner uid 65534"))));
}

// We refuse a symlinked CA directory rather than resolve it: the link's
// owner could re-point it at a CA of their own at any time.
TEST_F(CaTest, LoadRefusesASymlinkedDirectory) {
  Create();
  const std::string link = dir_ + "_link";
  unlink(link.c_str());
  ASSERT_EQ(symlink(dir_.c_str(), link.c_str()), 0);
  EXPECT_THAT(CertificateAuthority::Load(link, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("directory " + link),
                             HasSubstr("is a symbolic link"))));
}

TEST_F(CaTest, LoadRefusesAKeyOfAnotherCert) {
  Create();
  UniqueEvpPkey other = *GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(WriteFileAtomically(File(kRootKeyFile),
                                  *PrivateKeyToPkcs8Pem(*other),
                                  kPrivateFileMode)
                  .ok());
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(File(kRootKeyFile) +
                                 " does not hold the private key of " +
                                 File(kRootCertFile))));
}

TEST_F(CaTest, LoadNamesACorruptBundle) {
  Create();
  ASSERT_TRUE(
      WriteFileAtomically(File(kBundleFile), "garbage\n", kPublicFileMode)
          .ok());
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(File(kBundleFile) + ": no \"-----BEGIN")));
}

TEST_F(CaTest, HalfCreatedDirectoryIsNotACa) {
  // A crash during Create before the marker file leaves no loadable CA.
  Create();
  ASSERT_EQ(unlink(File(kTrustDomainFile).c_str()), 0);
  EXPECT_THAT(CertificateAuthority::Load(dir_, clock_),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("create one with `mayfly ca init`")));
}

TEST_F(CaTest, IntermediatesAreCappedByTheRootAndIssueVerifiableLeaves) {
  auto ca = Create();
  Signer intermediate = *ca->IssueIntermediate(absl::Hours(6));
  EXPECT_EQ(X509_check_ca(intermediate.cert.get()), 1);
  EXPECT_EQ(X509_get_pathlen(intermediate.cert.get()), 0);
  EXPECT_EQ(X509_check_issued(ca->root().cert.get(), intermediate.cert.get()),
            X509_V_OK);
  EXPECT_EQ(intermediate.NotAfter(), clock_.Now() + absl::Hours(6));
  Signer capped = *ca->IssueIntermediate(absl::Hours(100));
  EXPECT_EQ(capped.NotAfter(), ca->root().NotAfter());

  X509Svid svid = *MintX509Svid(
      {*SpiffeId::FromString("spiffe://example.org/w")}, intermediate, clock_);
  absl::StatusOr<VerifiedSvid> verified =
      VerifyX509Svid(svid.chain, ca->bundle(), clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->id.ToString(), "spiffe://example.org/w");
}

TEST_F(CaTest, EveryRootKeyTypeRoundTrips) {
  for (KeyType type :
       {KeyType::kEcP256, KeyType::kEd25519, KeyType::kRsa2048}) {
    const std::string cmd = absl::StrCat("rm -rf '", dir_, "'");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    Create(type);
    auto loaded = CertificateAuthority::Load(dir_, clock_);
    ASSERT_TRUE(loaded.ok()) << KeyTypeName(type) << ": " << loaded.status();
    EXPECT_EQ(*KeyTypeOf(*(*loaded)->root().key), type);
    EXPECT_TRUE((*loaded)->IssueIntermediate().ok()) << KeyTypeName(type);
  }
}

TEST_F(CaTest, SignsAnIntermediateForAKeyItNeverSees) {
  auto ca = Create();
  ASSERT_NE(ca, nullptr);
  UniqueEvpPkey replica_key = *GenerateKey(KeyType::kEcP256);
  auto csr =
      MakeSvidCsrDer(*replica_key, *SpiffeId::FromString(td_.IdString()), {});
  ASSERT_TRUE(csr.ok()) << csr.status();
  auto cert = ca->SignIntermediateCsr(*csr, absl::Hours(4));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(X509_check_private_key(cert->get(), replica_key.get()), 1);
  EXPECT_EQ(X509_check_ca(cert->get()), 1);
  EXPECT_EQ(X509_get_pathlen(cert->get()), 0);
  EXPECT_EQ(CertNotAfter(**cert), clock_.Now() + absl::Hours(4));
  EXPECT_EQ(X509_check_issued(ca->root().cert.get(), cert->get()), X509_V_OK);
}

TEST_F(CaTest, RefusesAnIntermediateCsrNamingAWorkloadOrAnotherDomain) {
  auto ca = Create();
  ASSERT_NE(ca, nullptr);
  UniqueEvpPkey key = *GenerateKey(KeyType::kEcP256);
  for (const char* id :
       {"spiffe://example.org/kafka/broker", "spiffe://other.org"}) {
    auto csr = MakeSvidCsrDer(*key, *SpiffeId::FromString(id), {});
    ASSERT_TRUE(csr.ok()) << csr.status();
    EXPECT_THAT(
        ca->SignIntermediateCsr(*csr, absl::Hours(4)),
        StatusIs(absl::StatusCode::kPermissionDenied,
                 HasSubstr(absl::StrCat("CSR names [", id,
                                        "] and 0 other subjectAltName(s); an "
                                        "intermediate CSR must name exactly "
                                        "spiffe://example.org"))));
  }
  EXPECT_THAT(ca->SignIntermediateCsr("junk", absl::Hours(4)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a DER PKCS#10")));
}

}  // namespace
}  // namespace mayfly::identity
