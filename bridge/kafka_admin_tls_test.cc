// Tests for the admin connection's TLS pieces: which broker IDs pass, and
// the private files librdkafka reads.
#include "bridge/kafka_admin_tls.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/svid_files.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

identity::TrustDomain Td(absl::string_view name) {
  return *identity::TrustDomain::FromString(name);
}
identity::SpiffeId Id(absl::string_view id) {
  return *identity::SpiffeId::FromString(id);
}

class KafkaAdminTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    identity::CaRequest ca{Td("prod.acme"), absl::Hours(1)};
    absl::StatusOr<identity::Signer> root = identity::MintRootCa(ca, clock_);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::move(*root);
  }

  identity::X509Svid Mint(absl::string_view id) {
    identity::X509SvidRequest request{Id(id)};
    absl::StatusOr<identity::X509Svid> svid =
        identity::MintX509Svid(request, root_, clock_);
    EXPECT_TRUE(svid.ok()) << svid.status();
    return std::move(*svid);
  }

  std::string LeafDer(absl::string_view id) {
    return identity::CertToDer(*Mint(id).chain.front());
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  identity::Signer root_;
};

TEST_F(KafkaAdminTlsTest, ExactBrokerIdMustMatch) {
  BrokerIdRule rule{Td("prod.acme"), Id("spiffe://prod.acme/kafka/broker"), {}};
  EXPECT_TRUE(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/kafka/broker"), rule).ok());
  EXPECT_THAT(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/ns/a/sa/b"), rule),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("the broker is spiffe://prod.acme/ns/a/sa/b, not "
                         "spiffe://prod.acme/kafka/broker")));
}

TEST_F(KafkaAdminTlsTest, AnyIdInAnAllowedTrustDomainOfOurBundle) {
  BrokerIdRule rule{Td("prod.acme"), std::nullopt, {Td("prod.acme")}};
  EXPECT_TRUE(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/anything"), rule).ok());
  rule.allowed = {Td("other.acme")};
  EXPECT_THAT(CheckBrokerLeaf(LeafDer("spiffe://prod.acme/anything"), rule),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("outside the allowed trust domains "
                                 "(other.acme)")));
}

TEST_F(KafkaAdminTlsTest, AllowedButForeignToOurBundleIsRefused) {
  // A root of prod.acme that signs an ID of staging.acme: allowed by name,
  // but prod.acme's roots cannot vouch for staging.acme.
  BrokerIdRule rule{
      Td("prod.acme"), std::nullopt, {Td("prod.acme"), Td("staging.acme")}};
  EXPECT_THAT(CheckBrokerLeaf(LeafDer("spiffe://staging.acme/kafka"), rule),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("checked with the bundle of prod.acme")));
}

TEST_F(KafkaAdminTlsTest, GarbageIsNoCertificate) {
  BrokerIdRule rule{Td("prod.acme"), std::nullopt, {Td("prod.acme")}};
  EXPECT_THAT(CheckBrokerLeaf("not DER", rule),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not parse")));
}

TEST_F(KafkaAdminTlsTest, FilesFromSvidDirAreWrittenPrivatelyAndRemoved) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/svid";
  identity::X509Svid svid = Mint("spiffe://prod.acme/ops/admin");
  identity::CertChain bundle;
  bundle.push_back(identity::ShareCert(root_.cert.get()));
  ASSERT_TRUE(
      identity::WriteSvidFiles(dir, svid.chain, *svid.key, bundle).ok());

  absl::StatusOr<AdminSvid> loaded = LoadSvidFromDir(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->id, Id("spiffe://prod.acme/ops/admin"));

  std::string written_dir;
  {
    absl::StatusOr<PrivateTlsFiles> files = PrivateTlsFiles::Write(*loaded);
    ASSERT_TRUE(files.ok()) << files.status();
    written_dir = files->dir();
    struct stat st;
    ASSERT_EQ(stat(written_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(stat(files->key_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    absl::StatusOr<std::string> chain = identity::ReadFile(files->chain_path());
    ASSERT_TRUE(chain.ok());
    EXPECT_EQ(*chain, identity::CertsToPem(svid.chain));
    absl::StatusOr<std::string> roots =
        identity::ReadFile(files->bundle_path());
    ASSERT_TRUE(roots.ok());
    EXPECT_EQ(*roots, identity::CertsToPem(bundle));
  }
  EXPECT_FALSE(identity::PathExists(written_dir));
}

TEST_F(KafkaAdminTlsTest, MissingSvidDirNamesTheFile) {
  EXPECT_THAT(LoadSvidFromDir("/nonexistent/svid"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent")));
}

}  // namespace
}  // namespace mayfly::bridge
