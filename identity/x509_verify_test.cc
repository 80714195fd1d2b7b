// X.509-SVID verification: a good SVID round-trips, and each certificate
// built wrong on purpose is rejected with the rule it breaks.
#include "identity/x509_verify.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/internal/cert_builder.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kUntrusted = absl::StatusCode::kUnauthenticated;

class X509VerifyTest : public ::testing::Test {
 protected:
  X509VerifyTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*TrustDomain::FromString("example.org")),
        root_(
            *MintRootCa({td_, absl::Hours(24), {}, KeyType::kEcP256}, clock_)),
        intermediate_(*MintIntermediateCa(
            {td_, absl::Hours(1), {}, KeyType::kEcP256}, root_, clock_)),
        bundle_(td_) {
    bundle_.AddRoot(*root_.cert);
  }

  // A leaf template that passes every rule; tests break one field.
  internal::CertTemplate GoodLeaf() const {
    internal::CertTemplate tmpl;
    tmpl.subject = {{"O", "Test"}};
    tmpl.uris = {"spiffe://example.org/workload"};
    tmpl.is_ca = false;
    tmpl.key_usage = KU_DIGITAL_SIGNATURE;
    tmpl.ext_key_usage = {NID_server_auth, NID_client_auth};
    tmpl.not_before = clock_.Now() - absl::Seconds(10);
    tmpl.not_after = clock_.Now() + absl::Minutes(5);
    return tmpl;
  }

  // Signs `tmpl` with the intermediate and returns [leaf, intermediate].
  CertChain Chain(const internal::CertTemplate& tmpl) const {
    UniqueEvpPkey key = *GenerateKey(KeyType::kEcP256);
    CertChain chain;
    chain.push_back(*internal::BuildCertificate(
        tmpl, *key, intermediate_.cert.get(), *intermediate_.key));
    chain.push_back(ShareCert(intermediate_.cert.get()));
    return chain;
  }

  absl::StatusOr<VerifiedSvid> Verify(const CertChain& chain) const {
    return VerifyX509Svid(chain, bundle_, clock_.Now());
  }

  FakeClock clock_;
  TrustDomain td_;
  Signer root_;
  Signer intermediate_;
  X509Bundle bundle_;
};

TEST_F(X509VerifyTest, MintedSvidVerifies) {
  X509Svid svid =
      *MintX509Svid({*SpiffeId::FromString("spiffe://example.org/ns/a/sa/b"),
                     absl::Minutes(5)},
                    intermediate_, clock_);
  absl::StatusOr<VerifiedSvid> verified = Verify(svid.chain);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->id.ToString(), "spiffe://example.org/ns/a/sa/b");
  ASSERT_EQ(verified->chain.size(), 3u);
  EXPECT_EQ(X509_cmp(verified->chain[0].get(), svid.chain[0].get()), 0);
  EXPECT_EQ(X509_cmp(verified->chain[1].get(), intermediate_.cert.get()), 0);
  EXPECT_EQ(X509_cmp(verified->chain[2].get(), root_.cert.get()), 0);
  EXPECT_EQ(verified->expiry, clock_.Now() + absl::Minutes(5));
}

TEST_F(X509VerifyTest, GoodTemplateVerifies) {
  EXPECT_TRUE(Verify(Chain(GoodLeaf())).ok());
}

TEST_F(X509VerifyTest, RejectsTwoUriSans) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.uris.push_back("spiffe://example.org/other");
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("exactly one URI SAN, found 2")));
}

TEST_F(X509VerifyTest, RejectsNoUriSan) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.uris.clear();
  tmpl.dns_names = {"web.example.org"};
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("exactly one URI SAN, found 0")));
}

TEST_F(X509VerifyTest, RejectsUriSanThatIsNotASpiffeId) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.uris = {"https://example.org/web"};
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("URI SAN is not a SPIFFE ID")));
}

TEST_F(X509VerifyTest, RejectsCaLeaf) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.is_ca = true;
  EXPECT_THAT(
      Verify(Chain(tmpl)),
      StatusIs(kInvalid, HasSubstr("leaf certificate must not be a CA")));
}

TEST_F(X509VerifyTest, RejectsMissingKeyUsage) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.key_usage = 0;
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("must have a keyUsage extension")));
}

TEST_F(X509VerifyTest, RejectsMissingDigitalSignature) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.key_usage = KU_KEY_ENCIPHERMENT;
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("must include digitalSignature")));
}

TEST_F(X509VerifyTest, RejectsKeyCertSignOnLeaf) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN;
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("must not include keyCertSign")));
}

TEST_F(X509VerifyTest, RejectsCrlSignOnLeaf) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.key_usage = KU_DIGITAL_SIGNATURE | KU_CRL_SIGN;
  EXPECT_THAT(Verify(Chain(tmpl)),
              StatusIs(kInvalid, HasSubstr("must not include cRLSign")));
}

TEST_F(X509VerifyTest, RejectsEkuWithoutTls) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.ext_key_usage = {NID_code_sign};
  EXPECT_THAT(
      Verify(Chain(tmpl)),
      StatusIs(kInvalid, HasSubstr("neither serverAuth nor clientAuth")));
}

TEST_F(X509VerifyTest, RejectsWrongTrustDomain) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.uris = {"spiffe://other.org/workload"};
  EXPECT_THAT(
      Verify(Chain(tmpl)),
      StatusIs(kUntrusted,
               HasSubstr("spiffe://other.org/workload is not in trust domain "
                         "example.org")));
}

TEST_F(X509VerifyTest, ExpiryBoundaryIsExact) {
  const CertChain chain = Chain(GoodLeaf());
  const absl::Time not_after = clock_.Now() + absl::Minutes(5);
  EXPECT_TRUE(
      VerifyX509Svid(chain, bundle_, not_after - absl::Seconds(1)).ok());
  EXPECT_THAT(VerifyX509Svid(chain, bundle_, not_after),
              StatusIs(kUntrusted, HasSubstr("leaf certificate has expired")));
}

TEST_F(X509VerifyTest, RejectsNotYetValid) {
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.not_before = clock_.Now() + absl::Minutes(1);
  EXPECT_THAT(
      Verify(Chain(tmpl)),
      StatusIs(kUntrusted, HasSubstr("leaf certificate is not valid yet")));
}

TEST_F(X509VerifyTest, RejectsExpiredIntermediate) {
  // Built by hand so the leaf outlives its 1 h intermediate (MintX509Svid
  // would cap it).
  internal::CertTemplate tmpl = GoodLeaf();
  tmpl.not_after = clock_.Now() + absl::Hours(2);
  const CertChain chain = Chain(tmpl);
  clock_.Advance(absl::Minutes(90));
  EXPECT_THAT(Verify(chain),
              StatusIs(kUntrusted,
                       HasSubstr("certificate 1 of the chain has expired")));
}

TEST_F(X509VerifyTest, RejectsUnknownRoot) {
  // Same trust domain name, different root key.
  Signer other_root =
      *MintRootCa({td_, absl::Hours(24), {}, KeyType::kEcP256}, clock_);
  X509Bundle other(td_);
  other.AddRoot(*other_root.cert);
  EXPECT_THAT(VerifyX509Svid(Chain(GoodLeaf()), other, clock_.Now()),
              StatusIs(kUntrusted,
                       HasSubstr("does not lead to a root in the trust bundle "
                                 "of example.org")));
}

TEST_F(X509VerifyTest, RejectsNonCaIntermediate) {
  // A leaf "signed" by another leaf's key: the signer is not a CA.
  internal::CertTemplate signer_tmpl = GoodLeaf();
  UniqueEvpPkey signer_key = *GenerateKey(KeyType::kEcP256);
  UniqueX509 signer = *internal::BuildCertificate(
      signer_tmpl, *signer_key, intermediate_.cert.get(), *intermediate_.key);
  UniqueEvpPkey leaf_key = *GenerateKey(KeyType::kEcP256);
  CertChain chain;
  chain.push_back(*internal::BuildCertificate(GoodLeaf(), *leaf_key,
                                              signer.get(), *signer_key));
  chain.push_back(std::move(signer));
  chain.push_back(ShareCert(intermediate_.cert.get()));
  EXPECT_THAT(Verify(chain),
              StatusIs(kInvalid, HasSubstr("certificate 1 of the chain signs "
                                           "but is not a CA")));
}

TEST_F(X509VerifyTest, RejectsEmptyChainAndEmptyBundle) {
  EXPECT_THAT(Verify(CertChain()),
              StatusIs(kInvalid, HasSubstr("certificate chain is empty")));
  EXPECT_THAT(VerifyX509Svid(Chain(GoodLeaf()), X509Bundle(td_), clock_.Now()),
              StatusIs(kUntrusted, HasSubstr("has no roots")));
}

TEST_F(X509VerifyTest, BundleWithTwoRootsTrustsBothUntilOneIsRemoved) {
  Signer new_root =
      *MintRootCa({td_, absl::Hours(24), {}, KeyType::kEcP256}, clock_);
  Signer new_intermediate = *MintIntermediateCa(
      {td_, absl::Hours(1), {}, KeyType::kEcP256}, new_root, clock_);
  X509SvidRequest request{*SpiffeId::FromString("spiffe://example.org/w")};
  X509Svid old_svid = *MintX509Svid(request, intermediate_, clock_);
  X509Svid new_svid = *MintX509Svid(request, new_intermediate, clock_);

  X509Bundle both = bundle_;
  EXPECT_TRUE(both.AddRoot(*new_root.cert));
  EXPECT_FALSE(both.AddRoot(*new_root.cert));  // Deduplicated.
  ASSERT_EQ(both.roots().size(), 2u);
  EXPECT_TRUE(VerifyX509Svid(old_svid.chain, both, clock_.Now()).ok());
  EXPECT_TRUE(VerifyX509Svid(new_svid.chain, both, clock_.Now()).ok());

  EXPECT_TRUE(both.RemoveRoot(*root_.cert));
  EXPECT_THAT(VerifyX509Svid(old_svid.chain, both, clock_.Now()),
              StatusIs(kUntrusted, HasSubstr("does not lead to a root")));
  EXPECT_TRUE(VerifyX509Svid(new_svid.chain, both, clock_.Now()).ok());
}

TEST_F(X509VerifyTest, BundleRejectsNonCaAndRoundTripsDer) {
  const CertChain leaf = Chain(GoodLeaf());
  CertChain only_leaf;
  only_leaf.push_back(ShareCert(leaf[0].get()));
  EXPECT_THAT(X509Bundle::FromDer(td_, CertsToDer(only_leaf)),
              StatusIs(kInvalid, HasSubstr("is not a CA certificate")));
  absl::StatusOr<X509Bundle> copy = X509Bundle::FromDer(td_, bundle_.ToDer());
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_EQ(copy->roots().size(), 1u);
  EXPECT_EQ(X509_cmp(copy->roots()[0].get(), root_.cert.get()), 0);
  EXPECT_EQ(copy->ToPem(), bundle_.ToPem());
}

// A bundle is one trust domain's: a root whose URI SAN names another trust
// domain would let that domain's CA sign this one's IDs, so it is refused
// (the broker plugin's SvidSet refuses such a file the same way).
TEST_F(X509VerifyTest, BundleRefusesARootOfAnotherTrustDomain) {
  const TrustDomain other = *TrustDomain::FromString("other.org");
  const Signer other_root =
      *MintRootCa({other, absl::Hours(24), {}, KeyType::kEcP256}, clock_);
  X509Bundle mixed = bundle_;
  mixed.AddRoot(*other_root.cert);
  EXPECT_THAT(X509Bundle::FromPem(td_, mixed.ToPem()),
              StatusIs(kInvalid,
                       "bundle certificate 2 is a root of trust domain "
                       "other.org, not of example.org"));
  EXPECT_THAT(X509Bundle::FromDer(td_, mixed.ToDer()),
              StatusIs(kInvalid, HasSubstr("is a root of trust domain")));
  // In the bundle of its own trust domain, the same root is fine.
  X509Bundle others(other);
  others.AddRoot(*other_root.cert);
  EXPECT_TRUE(X509Bundle::FromPem(other, others.ToPem()).ok());
}

}  // namespace
}  // namespace mayfly::identity
