// The direct DER encoder: canonical DER that OpenSSL re-encodes byte for
// byte, X.509 time forms, lengths, and the agent's MintX509SvidDer path.
#include "identity/internal/leaf_der.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/bundle.h"
#include "identity/internal/der.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/x509_svid.h"
#include "identity/x509_verify.h"

namespace mayfly::identity::internal {
namespace {

using ::testing::ElementsAre;

UniqueX509 Parse(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_NE(cert, nullptr);
  EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(der.data()) + der.size());
  return cert;
}

// The TBSCertificate bytes at the front of a certificate's DER.
std::string TbsOf(const std::string& der) {
  absl::string_view in = der, body, tbs_content;
  uint8_t tag;
  EXPECT_TRUE(ReadTlv(&in, &tag, &body));
  const absl::string_view before = body;
  EXPECT_TRUE(ReadTlv(&body, &tag, &tbs_content));
  return std::string(before.substr(0, before.size() - body.size()));
}

TEST(DerTest, LengthsUseTheShortestForm) {
  EXPECT_EQ(Tlv(0x04, std::string(3, 'x')).substr(0, 2),
            std::string("\x04\x03"));
  EXPECT_EQ(Tlv(0x04, std::string(127, 'x')).substr(0, 2),
            std::string("\x04\x7f"));
  EXPECT_EQ(Tlv(0x04, std::string(128, 'x')).substr(0, 3),
            std::string("\x04\x81\x80"));
  EXPECT_EQ(Tlv(0x04, std::string(300, 'x')).substr(0, 4),
            std::string("\x04\x82\x01\x2c"));
  std::string two = Tlv(0x30, std::string(300, 'y')) + Tlv(0x02, "\x01");
  absl::string_view in = two, content;
  uint8_t tag;
  ASSERT_TRUE(ReadTlv(&in, &tag, &content));
  EXPECT_EQ(tag, 0x30);
  EXPECT_EQ(content.size(), 300u);
  ASSERT_TRUE(ReadTlv(&in, &tag, &content));
  EXPECT_EQ(content, "\x01");
  EXPECT_TRUE(in.empty());
  absl::string_view truncated("\x30\x05\x01", 3);
  EXPECT_FALSE(ReadTlv(&truncated, &tag, &content));
}

TEST(DerTest, TimesSwitchToGeneralizedTimeIn2050) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(DerTime(absl::FromCivil(absl::CivilSecond(2049, 12, 31, 23, 59, 59),
                                    utc)),
            std::string("\x17\x0d") + "491231235959Z");
  EXPECT_EQ(
      DerTime(absl::FromCivil(absl::CivilSecond(2050, 1, 2, 3, 4, 5), utc)),
      std::string("\x18\x0f") + "20500102030405Z");
}

class LeafDerTest : public ::testing::Test {
 protected:
  LeafDerTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*TrustDomain::FromString("example.org")),
        root_(*MintRootCa({td_, absl::Hours(2)}, clock_)),
        intermediate_(
            *MintIntermediateCa({td_, absl::Hours(1)}, root_, clock_)) {}

  FakeClock clock_;
  TrustDomain td_;
  Signer root_;
  Signer intermediate_;
};

TEST_F(LeafDerTest, OpenSslReencodesTheTbsByteForByte) {
  for (KeyType issuer_type :
       {KeyType::kEcP256, KeyType::kEd25519, KeyType::kRsa2048}) {
    Signer issuer = *MintIntermediateCa({td_, absl::Hours(1), {}, issuer_type},
                                        root_, clock_);
    LeafFields fields;
    fields.uri = "spiffe://example.org/w";
    fields.dns_names = {"w.example.org"};
    fields.subject_der = *SubjectToDer({{"O", "Mayfly"}, {"CN", "w"}});
    fields.key_usage = KU_DIGITAL_SIGNATURE;
    fields.not_before = clock_.Now();
    fields.not_after = clock_.Now() + absl::Minutes(5);
    UniqueEvpPkey key = *GenerateKey(KeyType::kEcP256);
    const std::string der =
        *BuildLeafDer(fields, *key, *issuer.cert, *issuer.key);
    UniqueX509 cert = Parse(der);
    // i2d_re_X509_tbs ignores the cached encoding and re-encodes the parsed
    // fields: equal bytes mean our encoding is the canonical DER.
    unsigned char* reencoded = nullptr;
    const int len = i2d_re_X509_tbs(cert.get(), &reencoded);
    ASSERT_GT(len, 0);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(reencoded), len), TbsOf(der))
        << KeyTypeName(issuer_type);
    OPENSSL_free(reencoded);
    EXPECT_EQ(X509_verify(cert.get(), issuer.key.get()), 1)
        << KeyTypeName(issuer_type);
    EXPECT_EQ(X509_check_issued(issuer.cert.get(), cert.get()), X509_V_OK);
  }
}

TEST_F(LeafDerTest, EmptySubjectMakesTheSanCritical) {
  LeafFields fields;
  fields.uri = "spiffe://example.org/w";
  fields.subject_der = *SubjectToDer({});
  fields.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
  fields.not_before = clock_.Now();
  fields.not_after = clock_.Now() + absl::Minutes(5);
  UniqueEvpPkey key = *GenerateKey(KeyType::kEcP256);
  UniqueX509 cert = Parse(
      *BuildLeafDer(fields, *key, *intermediate_.cert, *intermediate_.key));
  const int san = X509_get_ext_by_NID(cert.get(), NID_subject_alt_name, -1);
  ASSERT_GE(san, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), san)), 1);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(cert.get())), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            uint32_t{KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT});
}

TEST_F(LeafDerTest, MintX509SvidDerIsTheSameSvid) {
  X509SvidRequest request{*SpiffeId::FromString("spiffe://example.org/w"),
                          absl::Minutes(5)};
  X509SvidDer svid = *MintX509SvidDer(request, intermediate_, clock_);
  EXPECT_EQ(svid.id, request.id);
  EXPECT_EQ(svid.not_after, clock_.Now() + absl::Minutes(5));
  EXPECT_EQ(svid.not_before, clock_.Now() - kNotBeforeBackdate);
  CertChain chain;
  chain.push_back(Parse(svid.leaf_der));
  chain.push_back(ShareCert(intermediate_.cert.get()));
  EXPECT_THAT(UriSans(*chain[0]), ElementsAre("spiffe://example.org/w"));
  EXPECT_TRUE(KeyMatchesCert(*svid.key, *chain[0]));
  X509Bundle bundle(td_);
  bundle.AddRoot(*root_.cert);
  absl::StatusOr<VerifiedSvid> verified =
      VerifyX509Svid(chain, bundle, clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->expiry, svid.not_after);
}

}  // namespace
}  // namespace mayfly::identity::internal
