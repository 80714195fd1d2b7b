// CSRs: what the agent builds is what the server reads back, and every way
// a hostile CSR differs from its entry is refused with a message naming it.

#include "identity/csr.h"

#include <openssl/x509.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/keys.h"
#include "identity/testing/hand_made_csr.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::identity {
namespace {

using ::mayfly::testing_util::HandMadeCsr;
using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SpiffeId Id(absl::string_view text) { return *SpiffeId::FromString(text); }

UniqueEvpPkey Key() { return *GenerateKey(KeyType::kEcP256); }

TEST(CsrTest, RoundTripsIdAndDnsNames) {
  UniqueEvpPkey key = Key();
  auto der = MakeSvidCsrDer(*key, Id("spiffe://example.org/web"),
                            {"web.internal", "web"});
  ASSERT_TRUE(der.ok()) << der.status();
  auto csr = ParseCsrDer(*der);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_THAT(csr->uris, ElementsAre("spiffe://example.org/web"));
  EXPECT_THAT(csr->dns_names, ElementsAre("web.internal", "web"));
  EXPECT_EQ(csr->other_names, 0);
  EXPECT_FALSE(csr->asks_ca);
  EXPECT_EQ(EVP_PKEY_eq(csr->public_key.get(), key.get()), 1);
  EXPECT_TRUE(CheckCsrMatches(*csr, Id("spiffe://example.org/web"),
                              {"web", "web.internal"})
                  .ok());
}

TEST(CsrTest, Ed25519KeysSignWithoutDigest) {
  UniqueEvpPkey key = *GenerateKey(KeyType::kEd25519);
  auto der = MakeSvidCsrDer(*key, Id("spiffe://example.org/web"), {});
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_TRUE(ParseCsrDer(*der).ok());
}

TEST(CsrTest, RefusesACsrItsKeyDidNotSign) {
  UniqueEvpPkey key = Key();
  UniqueEvpPkey other = Key();
  EXPECT_THAT(ParseCsrDer(HandMadeCsr(
                  *key, *other, {"subjectAltName=URI:spiffe://example.org/w"})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not made by the key it carries")));
}

TEST(CsrTest, RefusesGarbageTrailingBytesAndOversize) {
  UniqueEvpPkey key = Key();
  std::string der = *MakeSvidCsrDer(*key, Id("spiffe://example.org/w"), {});
  EXPECT_THAT(ParseCsrDer("not a csr"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a DER PKCS#10")));
  EXPECT_THAT(ParseCsrDer(der + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a DER PKCS#10")));
  EXPECT_THAT(ParseCsrDer(std::string(kMaxCsrBytes + 1, '0')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than the 16384 allowed")));
}

TEST(CsrTest, RefusesEachDifferenceFromTheEntry) {
  UniqueEvpPkey key = Key();
  const SpiffeId id = Id("spiffe://example.org/w");
  auto check = [&](const std::vector<std::string>& conf) {
    auto csr = ParseCsrDer(HandMadeCsr(*key, *key, conf));
    EXPECT_TRUE(csr.ok()) << csr.status();
    return CheckCsrMatches(*csr, id, {"w.internal"});
  };
  EXPECT_TRUE(
      check({"subjectAltName=URI:spiffe://example.org/w,DNS:w.internal"}).ok());
  EXPECT_THAT(check({"subjectAltName=URI:spiffe://example.org/w,DNS:w.internal",
                     "basicConstraints=critical,CA:TRUE"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("asks for a CA certificate")));
  EXPECT_THAT(
      check({"subjectAltName=URI:spiffe://example.org/x,DNS:w.internal"}),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("[spiffe://example.org/x]; the entry allows exactly "
                         "spiffe://example.org/w")));
  EXPECT_THAT(check({"subjectAltName=URI:spiffe://example.org/w,URI:"
                     "spiffe://example.org/admin,DNS:w.internal"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("URI SANs [spiffe://example.org/w, "
                                 "spiffe://example.org/admin]")));
  EXPECT_THAT(check({"subjectAltName=URI:spiffe://example.org/w,DNS:w.internal,"
                     "DNS:kafka.internal"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("DNS SANs [kafka.internal, w.internal]")));
  EXPECT_THAT(check({"subjectAltName=URI:spiffe://example.org/w,DNS:w.internal,"
                     "IP:127.0.0.1"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("neither URI nor DNS")));
  EXPECT_THAT(check({}), StatusIs(absl::StatusCode::kPermissionDenied,
                                  HasSubstr("URI SANs []")));
}

}  // namespace
}  // namespace mayfly::identity
