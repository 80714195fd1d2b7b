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
using ::testing::Eq;
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

BrokerIdRule Rule(std::vector<absl::string_view> patterns) {
  BrokerIdRule rule{Td("prod.acme"), {}, "the policy's brokers"};
  for (absl::string_view p : patterns) {
    rule.brokers.push_back(*identity::SpiffeIdPattern::FromString(p));
  }
  return rule;
}

TEST_F(KafkaAdminTlsTest, ExactBrokerIdMustMatch) {
  const BrokerIdRule rule = Rule({"spiffe://prod.acme/kafka/broker"});
  EXPECT_TRUE(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/kafka/broker"), rule).ok());
  EXPECT_THAT(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/ns/a/sa/b"), rule),
      StatusIs(absl::StatusCode::kPermissionDenied,
               Eq("the broker is spiffe://prod.acme/ns/a/sa/b, not "
                  "spiffe://prod.acme/kafka/broker (the policy's brokers)")));
}

// Any workload of our trust domain has an SVID that can serve TLS: without
// broker IDs, none is the broker.
TEST_F(KafkaAdminTlsTest, NoBrokerIdsAcceptNoBroker) {
  EXPECT_THAT(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/kafka/broker"), Rule({})),
      StatusIs(absl::StatusCode::kPermissionDenied,
               Eq("the broker is spiffe://prod.acme/kafka/broker, but "
                  "no broker IDs are given (the policy's brokers)")));
}

TEST_F(KafkaAdminTlsTest, PatternsAsInThePolicy) {
  const BrokerIdRule rule =
      Rule({"spiffe://prod.acme/kafka/*", "spiffe://prod.acme/ctl/**"});
  EXPECT_TRUE(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/kafka/b1"), rule).ok());
  EXPECT_TRUE(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/ctl/eu/c1"), rule).ok());
  EXPECT_THAT(
      CheckBrokerLeaf(LeafDer("spiffe://prod.acme/anything"), rule),
      StatusIs(absl::StatusCode::kPermissionDenied,
               Eq("the broker is spiffe://prod.acme/anything, not one of "
                  "spiffe://prod.acme/kafka/*, spiffe://prod.acme/ctl/** (the "
                  "policy's brokers)")));
}

TEST_F(KafkaAdminTlsTest, NamedButForeignToOurBundleIsRefused) {
  // A root of prod.acme that signs an ID of staging.acme: named, but
  // prod.acme's roots cannot vouch for staging.acme.
  EXPECT_THAT(CheckBrokerLeaf(LeafDer("spiffe://staging.acme/kafka"),
                              Rule({"spiffe://staging.acme/kafka"})),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("checked with the bundle of prod.acme")));
}

TEST_F(KafkaAdminTlsTest, GarbageIsNoCertificate) {
  EXPECT_THAT(CheckBrokerLeaf("not DER", Rule({"spiffe://prod.acme/kafka/*"})),
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
