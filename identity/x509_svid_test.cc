// Minting: the exact fields of leaf and CA certificates, every key type, and
// the PEM/DER/PKCS#8 codecs they travel in.
#include "identity/x509_svid.h"

#include <openssl/sha.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_verify.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kId[] = "spiffe://example.org/ns/prod/sa/web";

std::string Octets(const ASN1_OCTET_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::vector<std::string> DnsSans(X509& cert) {
  UniqueGeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) out.push_back(Octets(name->d.dNSName));
  }
  return out;
}

bool ExtensionIsCritical(X509& cert, int nid) {
  const int index = X509_get_ext_by_NID(&cert, nid, -1);
  return index >= 0 &&
         X509_EXTENSION_get_critical(X509_get_ext(&cert, index)) == 1;
}

std::string SubjectText(X509& cert) {
  char* text = X509_NAME_oneline(X509_get_subject_name(&cert), nullptr, 0);
  std::string out(text);
  OPENSSL_free(text);
  return out;
}

class MintTest : public ::testing::Test {
 protected:
  MintTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*TrustDomain::FromString("example.org")),
        root_(
            *MintRootCa({td_, absl::Hours(24), {}, KeyType::kEcP256}, clock_)),
        intermediate_(*MintIntermediateCa(
            {td_, absl::Hours(1), {}, KeyType::kEcP256}, root_, clock_)) {}

  X509Svid Mint(X509SvidRequest request) {
    absl::StatusOr<X509Svid> svid =
        MintX509Svid(request, intermediate_, clock_);
    EXPECT_TRUE(svid.ok()) << svid.status();
    return std::move(*svid);
  }

  FakeClock clock_;
  TrustDomain td_;
  Signer root_;
  Signer intermediate_;
};

TEST_F(MintTest, ForKeyCertifiesTheGivenPublicKeyOnly) {
  UniqueEvpPkey workload_key = *GenerateKey(KeyType::kEcP256);
  // Only the public half, as a CSR carries it.
  unsigned char* spki = nullptr;
  const int spki_len = i2d_PUBKEY(workload_key.get(), &spki);
  ASSERT_GT(spki_len, 0);
  const unsigned char* p = spki;
  UniqueEvpPkey public_only(d2i_PUBKEY(nullptr, &p, spki_len));
  OPENSSL_free(spki);
  ASSERT_NE(public_only, nullptr);

  absl::StatusOr<X509SvidDer> svid = MintX509SvidDerForKey(
      {*SpiffeId::FromString(kId), absl::Minutes(7), {"web"}}, *public_only,
      intermediate_, clock_);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->key, nullptr);
  EXPECT_EQ(svid->not_after, clock_.Now() + absl::Minutes(7));
  const unsigned char* d =
      reinterpret_cast<const unsigned char*>(svid->leaf_der.data());
  UniqueX509 leaf(d2i_X509(nullptr, &d, svid->leaf_der.size()));
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(KeyMatchesCert(*workload_key, *leaf));
  EXPECT_THAT(UriSans(*leaf), ElementsAre(kId));
  EXPECT_THAT(DnsSans(*leaf), ElementsAre("web"));
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
}

TEST_F(MintTest, LeafHasExactlyTheSpecFields) {
  X509Svid svid = Mint({*SpiffeId::FromString(kId),
                        absl::Minutes(5),
                        {"web.example.org", "web"}});
  X509& leaf = *svid.chain[0];
  EXPECT_EQ(X509_get_version(&leaf), X509_VERSION_3);
  EXPECT_EQ(CertNotBefore(leaf), clock_.Now() - kNotBeforeBackdate);
  EXPECT_EQ(CertNotAfter(leaf), clock_.Now() + absl::Minutes(5));
  EXPECT_EQ(svid.not_after, clock_.Now() + absl::Minutes(5));
  EXPECT_THAT(UriSans(leaf), ElementsAre(kId));
  EXPECT_THAT(DnsSans(leaf), ElementsAre("web.example.org", "web"));
  EXPECT_EQ(SubjectText(leaf), "/O=Mayfly");

  // basicConstraints: critical, cA false.
  EXPECT_TRUE(ExtensionIsCritical(leaf, NID_basic_constraints));
  EXPECT_EQ(X509_check_ca(&leaf), 0);
  // keyUsage: critical, digitalSignature only.
  EXPECT_TRUE(ExtensionIsCritical(leaf, NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(&leaf), uint32_t{KU_DIGITAL_SIGNATURE});
  // EKU: exactly serverAuth and clientAuth.
  EXPECT_EQ(X509_get_extended_key_usage(&leaf),
            uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT});
  EXPECT_FALSE(ExtensionIsCritical(leaf, NID_ext_key_usage));
  // A non-empty subject, so the SAN need not be critical.
  EXPECT_FALSE(ExtensionIsCritical(leaf, NID_subject_alt_name));

  // SKI is SHA-1 of the public key bits; AKI is the intermediate's SKI.
  unsigned char digest[SHA_DIGEST_LENGTH];
  unsigned int len = 0;
  ASSERT_EQ(X509_pubkey_digest(&leaf, EVP_sha1(), digest, &len), 1);
  EXPECT_EQ(Octets(X509_get0_subject_key_id(&leaf)),
            std::string(reinterpret_cast<char*>(digest), len));
  EXPECT_EQ(Octets(X509_get0_authority_key_id(&leaf)),
            Octets(X509_get0_subject_key_id(intermediate_.cert.get())));

  // Chain: leaf then intermediate, never the root; key matches the leaf.
  ASSERT_EQ(svid.chain.size(), 2u);
  EXPECT_EQ(X509_cmp(svid.chain[1].get(), intermediate_.cert.get()), 0);
  EXPECT_TRUE(KeyMatchesCert(*svid.key, leaf));
  EXPECT_EQ(*KeyTypeOf(*svid.key), KeyType::kEcP256);
}

TEST_F(MintTest, SerialsAreRandom128BitPositive) {
  X509Svid a = Mint({*SpiffeId::FromString(kId)});
  X509Svid b = Mint({*SpiffeId::FromString(kId)});
  const ASN1_INTEGER* sa = X509_get0_serialNumber(a.chain[0].get());
  const ASN1_INTEGER* sb = X509_get0_serialNumber(b.chain[0].get());
  EXPECT_EQ(ASN1_STRING_length(sa), 16);
  EXPECT_EQ(ASN1_STRING_type(sa), V_ASN1_INTEGER);  // Not V_ASN1_NEG_INTEGER.
  EXPECT_NE(ASN1_INTEGER_cmp(sa, sb), 0);
}

TEST_F(MintTest, TtlIsCappedByTheIssuer) {
  X509Svid svid = Mint({*SpiffeId::FromString(kId), absl::Hours(5)});
  EXPECT_EQ(svid.not_after, intermediate_.NotAfter());
  EXPECT_EQ(CertNotAfter(*svid.chain[0]), clock_.Now() + absl::Hours(1));
}

TEST_F(MintTest, CustomSubject) {
  X509SvidRequest request{*SpiffeId::FromString(kId)};
  request.subject = {{"O", "Kafka"}, {"CN", "web.prod"}};
  X509Svid svid = Mint(request);
  EXPECT_EQ(SubjectText(*svid.chain[0]), "/O=Kafka/CN=web.prod");
  request.subject = {{"CN", std::string(65, 'x')}};  // ub-common-name is 64.
  EXPECT_THAT(MintX509Svid(request, intermediate_, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot set subject attribute CN")));
}

TEST_F(MintTest, EveryKeyTypeMintsAndVerifies) {
  X509Bundle bundle(td_);
  bundle.AddRoot(*root_.cert);
  for (KeyType type :
       {KeyType::kEcP256, KeyType::kEd25519, KeyType::kRsa2048}) {
    X509SvidRequest request{*SpiffeId::FromString(kId)};
    request.key_type = type;
    X509Svid svid = Mint(request);
    EXPECT_EQ(*KeyTypeOf(*svid.key), type) << KeyTypeName(type);
    const uint32_t want_ku = type == KeyType::kRsa2048
                                 ? (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT)
                                 : KU_DIGITAL_SIGNATURE;
    EXPECT_EQ(X509_get_key_usage(svid.chain[0].get()), want_ku);
    EXPECT_TRUE(VerifyX509Svid(svid.chain, bundle, clock_.Now()).ok())
        << KeyTypeName(type);
  }
}

TEST_F(MintTest, CaCertificates) {
  for (X509* ca : {root_.cert.get(), intermediate_.cert.get()}) {
    EXPECT_EQ(X509_check_ca(ca), 1);
    EXPECT_TRUE(ExtensionIsCritical(*ca, NID_basic_constraints));
    EXPECT_EQ(X509_get_key_usage(ca), uint32_t{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
    EXPECT_THAT(UriSans(*ca), ElementsAre("spiffe://example.org"));
  }
  EXPECT_TRUE(root_.IsRoot());
  EXPECT_FALSE(intermediate_.IsRoot());
  EXPECT_EQ(X509_get_pathlen(intermediate_.cert.get()), 0);
  EXPECT_EQ(X509_get_pathlen(root_.cert.get()), -1);  // Unlimited.
  EXPECT_EQ(CertNotAfter(*root_.cert), clock_.Now() + absl::Hours(24));
  EXPECT_EQ(X509_check_issued(root_.cert.get(), intermediate_.cert.get()),
            X509_V_OK);
}

TEST_F(MintTest, EarliestNotAfterIsTheSoonestOfTheCertificates) {
  EXPECT_EQ(EarliestNotAfter({}), absl::InfiniteFuture());
  CertChain certs;
  certs.emplace_back(X509_dup(root_.cert.get()));
  EXPECT_EQ(EarliestNotAfter(certs), clock_.Now() + absl::Hours(24));
  certs.emplace_back(X509_dup(intermediate_.cert.get()));
  certs.emplace_back(X509_dup(root_.cert.get()));
  EXPECT_EQ(EarliestNotAfter(certs), clock_.Now() + absl::Hours(1));
}

TEST_F(MintTest, ExpiredSignerIsRefused) {
  clock_.Advance(absl::Hours(2));
  EXPECT_THAT(MintX509Svid({*SpiffeId::FromString(kId)}, intermediate_, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("signing CA expired")));
}

TEST_F(MintTest, KeysRoundTripThroughPkcs8) {
  for (KeyType type :
       {KeyType::kEcP256, KeyType::kEd25519, KeyType::kRsa2048}) {
    UniqueEvpPkey key = *GenerateKey(type);
    const std::string der = *PrivateKeyToPkcs8Der(*key);
    const std::string pem = *PrivateKeyToPkcs8Pem(*key);
    EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
    UniqueEvpPkey from_der = *PrivateKeyFromPkcs8Der(der);
    UniqueEvpPkey from_pem = *PrivateKeyFromPem(pem);
    EXPECT_EQ(EVP_PKEY_eq(key.get(), from_der.get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(key.get(), from_pem.get()), 1);
    EXPECT_EQ(*PrivateKeyToPkcs8Der(*from_pem), der);
  }
  EXPECT_THAT(PrivateKeyFromPkcs8Der("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not PKCS#8 DER")));
  EXPECT_THAT(PrivateKeyFromPem("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no unencrypted PEM private key")));
}

TEST_F(MintTest, CertificatesRoundTripThroughPemAndDer) {
  X509Svid svid = Mint({*SpiffeId::FromString(kId)});
  const std::string pem = CertsToPem(svid.chain);
  const std::string key_pem = *PrivateKeyToPkcs8Pem(*svid.key);
  // A key block in the same file is skipped, not an error.
  absl::StatusOr<CertChain> parsed = CertsFromPem(key_pem + pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ(X509_cmp((*parsed)[0].get(), svid.chain[0].get()), 0);
  EXPECT_EQ(X509_cmp((*parsed)[1].get(), svid.chain[1].get()), 0);

  const std::string der = CertsToDer(svid.chain);
  absl::StatusOr<CertChain> from_der = CertsFromDer(der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(CertsToDer(*from_der), der);

  EXPECT_THAT(CertsFromPem(key_pem),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no \"-----BEGIN CERTIFICATE-----\" block")));
  EXPECT_THAT(CertsFromDer(der.substr(0, der.size() - 5)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("certificate 2 in DER list is malformed")));
  EXPECT_THAT(
      CertsFromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
                   "CERTIFICATE-----\n"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("PEM block 1 is not a valid DER certificate")));
}

}  // namespace
}  // namespace mayfly::identity
