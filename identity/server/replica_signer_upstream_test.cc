// ReplicaSigner in upstream mode, against an in-memory UpstreamAuthority:
// its own key (0600) and a chain that leaves verify under, renewal at
// half-life on the fake clock, a restart that reuses what is not due, an
// upstream that fails or signs under pathlen:0.
#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/server/replica_signer.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_verify.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

// Signs each CSR's key as a CA with `signer`, for the TTL asked.
class FakeUpstream : public upstream::UpstreamAuthority {
 public:
  FakeUpstream(const identity::Signer& root, const identity::Signer& signer,
               const identity::TrustDomain& td, const identity::Clock& clock,
               int* calls)
      : root_(root), signer_(signer), td_(td), clock_(clock), calls_(calls) {}

  absl::StatusOr<upstream::UpstreamChain> SignIntermediate(
      absl::string_view csr_der, absl::Duration ttl) override {
    ++*calls_;
    if (!fail_with.ok()) return fail_with;
    auto csr = identity::ParseCsrDer(csr_der);
    if (!csr.ok()) return csr.status();
    auto cert = identity::MintIntermediateCaForKey({td_, ttl}, *csr->public_key,
                                                   signer_, clock_);
    if (!cert.ok()) return cert.status();
    upstream::UpstreamChain out;
    out.chain.push_back(*std::move(cert));
    if (!signer_.IsRoot()) {
      for (auto& c : signer_.ChainBelowRoot())
        out.chain.push_back(std::move(c));
    }
    out.roots.push_back(identity::ShareCert(root_.cert.get()));
    return out;
  }
  std::string Name() const override { return "fake upstream"; }

  absl::Status fail_with = absl::OkStatus();

 private:
  const identity::Signer& root_;
  const identity::Signer& signer_;
  const identity::TrustDomain td_;
  const identity::Clock& clock_;
  int* calls_;
};

class UpstreamModeTest : public ::testing::Test {
 protected:
  UpstreamModeTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*identity::TrustDomain::FromString("example.org")),
        dir_(absl::StrCat(
            std::getenv("TEST_TMPDIR"), "/",
            ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    EXPECT_TRUE(identity::EnsurePrivateDir(dir_).ok());
    root_ = *identity::MintRootCa({td_, absl::Hours(24 * 30)}, clock_);
    signer_ = root_.Share();
    config_.ca_dir.clear();
    config_.upstream_ttl = absl::Hours(24);
  }

  std::unique_ptr<FakeUpstream> Upstream() {
    return std::make_unique<FakeUpstream>(root_, signer_, td_, clock_, &calls_);
  }

  identity::FakeClock clock_;
  identity::TrustDomain td_;
  std::string dir_;
  identity::Signer root_;
  identity::Signer signer_;
  SigningConfig config_;
  int calls_ = 0;
};

TEST_F(UpstreamModeTest, SignsLeavesThatVerifyUnderTheUpstreamRoot) {
  auto signer = ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream());
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(calls_, 1);
  auto m = (*signer)->Current();
  EXPECT_EQ(m->root_der, identity::CertToDer(*root_.cert));
  EXPECT_EQ(m->signer.NotAfter(), clock_.Now() + absl::Hours(24));
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/upstream/intermediate_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto leaf_key = identity::GenerateKey(identity::KeyType::kEcP256);
  identity::X509SvidRequest req{
      *identity::SpiffeId::FromString("spiffe://example.org/web"),
      absl::Minutes(5)};
  auto leaf = (*signer)->SignLeaf(req, **leaf_key);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  identity::CertChain chain;
  for (const std::string& der : leaf->chain_der) {
    auto c = identity::CertsFromDer(der);
    chain.push_back(std::move((*c)[0]));
  }
  auto verified = identity::VerifyX509Svid(chain, m->roots, clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->id.ToString(), "spiffe://example.org/web");
}

TEST_F(UpstreamModeTest, RenewsAtHalfLifeWithoutARestart) {
  auto signer = ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream());
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto first = (*signer)->Current();
  clock_.Advance(absl::Hours(12) - absl::Seconds(1));
  EXPECT_FALSE(*(*signer)->Refresh());
  EXPECT_EQ(calls_, 1);
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(*(*signer)->Refresh());
  EXPECT_EQ(calls_, 2);
  auto second = (*signer)->Current();
  EXPECT_NE(X509_cmp(first->signer.cert.get(), second->signer.cert.get()), 0);
  // A new key each time.
  EXPECT_NE(EVP_PKEY_eq(first->signer.key.get(), second->signer.key.get()), 1);
}

TEST_F(UpstreamModeTest, AFailedRenewalKeepsTheCurrentIntermediate) {
  auto upstream = Upstream();
  FakeUpstream* fake = upstream.get();
  auto signer =
      ReplicaSigner::Create(td_, config_, dir_, clock_, std::move(upstream));
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto first = (*signer)->Current();
  fake->fail_with = absl::PermissionDeniedError("step-ca: refused");
  clock_.Advance(absl::Hours(13));
  EXPECT_THAT(
      (*signer)->Refresh(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("refused")));
  EXPECT_EQ((*signer)->Current(), first);
}

TEST_F(UpstreamModeTest, ARestartReusesWhatIsNotDue) {
  ASSERT_TRUE(
      ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream()).ok());
  auto before = identity::ReadFile(dir_ + "/upstream/intermediate.pem");
  clock_.Advance(absl::Hours(1));
  auto again = ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(*identity::ReadFile(dir_ + "/upstream/intermediate.pem"), *before);
  // The reused intermediate keeps its schedule: half of its life, counted
  // from its NotBefore, not from the restart.
  std::shared_ptr<const SigningMaterial> reused = (*again)->Current();
  const absl::Time not_before = identity::CertNotBefore(*reused->signer.cert);
  const absl::Time due =
      not_before + (reused->signer.NotAfter() - not_before) / 2;
  clock_.SetTime(due - absl::Seconds(1));
  EXPECT_FALSE(*(*again)->Refresh());
  EXPECT_EQ(calls_, 1);
  clock_.SetTime(due + absl::Seconds(1));
  EXPECT_TRUE(*(*again)->Refresh());
  EXPECT_EQ(calls_, 2);
  // Past its half-life a restart asks the upstream again.
  clock_.Advance(absl::Hours(13));
  ASSERT_TRUE(
      ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream()).ok());
  EXPECT_EQ(calls_, 3);
}

TEST_F(UpstreamModeTest, AnUpstreamIntermediateWithPathlenZeroIsRefused) {
  signer_ =
      *identity::MintIntermediateCa({td_, absl::Hours(48)}, root_, clock_);
  EXPECT_THAT(
      ReplicaSigner::Create(td_, config_, dir_, clock_, Upstream()).status(),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("fake upstream: \"/O=Mayfly/CN=example.org "
                         "intermediate CA\" has pathlen:0")));
}

TEST_F(UpstreamModeTest, AnUnreachableUpstreamFailsTheStart) {
  auto upstream = Upstream();
  upstream->fail_with = absl::UnavailableError("step-ca: connection refused");
  EXPECT_THAT(
      ReplicaSigner::Create(td_, config_, dir_, clock_, std::move(upstream))
          .status(),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("connection refused")));
}

}  // namespace
}  // namespace mayfly::server
