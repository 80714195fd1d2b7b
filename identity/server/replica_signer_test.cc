// ReplicaSigner: the ca_dir mode mints and renews its own intermediate at
// half-life; the intermediate-files mode signs with what an admin signed
// and keeps its JWT key in the state dir; the server identity carries the
// root.
#include "identity/server/replica_signer.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_verify.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ReplicaSignerTest : public ::testing::Test {
 protected:
  ReplicaSignerTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*identity::TrustDomain::FromString("example.org")),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    EXPECT_TRUE(identity::EnsurePrivateDir(dir_).ok());
  }

  identity::FakeClock clock_;
  identity::TrustDomain td_;
  std::string dir_;
};

TEST_F(ReplicaSignerTest, CaDirRenewsTheIntermediateAtHalfLife) {
  SigningConfig config;
  config.ca_dir = dir_ + "/ca";
  auto signer = ReplicaSigner::Create(td_, config, dir_, clock_);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto first = (*signer)->Current();
  EXPECT_EQ(first->signer.NotAfter(), clock_.Now() + kDefaultIntermediateTtl);
  clock_.Advance(kDefaultIntermediateTtl / 2 - absl::Seconds(1));
  EXPECT_FALSE(*(*signer)->Refresh());
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(*(*signer)->Refresh());
  auto second = (*signer)->Current();
  EXPECT_NE(X509_cmp(first->signer.cert.get(), second->signer.cert.get()), 0);
  EXPECT_EQ(first->root_der, second->root_der);

  auto id = (*signer)->MintServerIdentity(absl::Hours(1));
  ASSERT_TRUE(id.ok()) << id.status();
  identity::CertChain chain = *identity::CertsFromPem(id->chain_pem);
  ASSERT_EQ(chain.size(), 3u);  // leaf, intermediate, root
  EXPECT_EQ(identity::CertToDer(*chain[2]), second->root_der);
  EXPECT_THAT(identity::UriSans(*chain[0]),
              ElementsAre("spiffe://example.org/mayfly/server"));
  EXPECT_TRUE(identity::KeyMatchesCert(
      **identity::PrivateKeyFromPem(id->key_pem), *chain[0]));
}

TEST_F(ReplicaSignerTest, IntermediateFilesSignWithTheRootOffTheServer) {
  identity::Signer root =
      *identity::MintRootCa({td_, absl::Hours(24 * 30)}, clock_);
  identity::Signer intermediate =
      *identity::MintIntermediateCa({td_, absl::Hours(96)}, root, clock_);
  identity::CertChain one;
  one.push_back(identity::ShareCert(intermediate.cert.get()));
  identity::CertChain roots;
  roots.push_back(identity::ShareCert(root.cert.get()));
  SigningConfig config;
  config.intermediate_cert = dir_ + "/int.pem";
  config.intermediate_key = dir_ + "/int.key";
  config.bundle = dir_ + "/bundle.pem";
  ASSERT_TRUE(identity::WriteFileAtomically(config.intermediate_cert,
                                            identity::CertsToPem(one), 0644)
                  .ok());
  ASSERT_TRUE(identity::WriteFileAtomically(
                  config.intermediate_key,
                  *identity::PrivateKeyToPkcs8Pem(*intermediate.key), 0600)
                  .ok());
  ASSERT_TRUE(identity::WriteFileAtomically(config.bundle,
                                            identity::CertsToPem(roots), 0644)
                  .ok());
  auto signer = ReplicaSigner::Create(td_, config, dir_, clock_);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->Current()->root_der, identity::CertToDer(*root.cert));
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/jwt_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Files unchanged: nothing to refresh.
  EXPECT_FALSE(*(*signer)->Refresh());

  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  auto leaf = (*signer)->SignLeaf(
      {*identity::SpiffeId::FromString("spiffe://example.org/w"),
       absl::Minutes(5)},
      *key);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  identity::CertChain chain;
  for (const std::string& der : leaf->chain_der) {
    identity::CertChain c = *identity::CertsFromDer(der);
    chain.push_back(std::move(c[0]));
  }
  identity::X509Bundle bundle(td_);
  bundle.AddRoot(*root.cert);
  EXPECT_TRUE(identity::VerifyX509Svid(chain, bundle, clock_.Now()).ok());

  // Another key than the certificate's is refused at start.
  ASSERT_TRUE(
      identity::WriteFileAtomically(config.intermediate_key,
                                    *identity::PrivateKeyToPkcs8Pem(*key), 0600)
          .ok());
  EXPECT_THAT(ReplicaSigner::Create(td_, config, dir_, clock_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("int.key is not the key of")));
}

}  // namespace
}  // namespace mayfly::server
