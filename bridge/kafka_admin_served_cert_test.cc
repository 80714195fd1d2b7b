// Tests for the served-certificate check behind reload-broker.
#include "bridge/kafka_admin_served_cert.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

class WaitUntilServedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    identity::CaRequest ca{*identity::TrustDomain::FromString("prod.acme"),
                           absl::Hours(1)};
    root_ = std::move(*identity::MintRootCa(ca, clock_));
    old_ = Mint(&old_serial_);
    new_ = Mint(&new_serial_);
  }

  std::string Mint(std::string* serial_hex) {
    identity::X509SvidRequest request{
        *identity::SpiffeId::FromString("spiffe://prod.acme/kafka/broker")};
    absl::StatusOr<identity::X509Svid> svid =
        identity::MintX509Svid(request, root_, clock_);
    EXPECT_TRUE(svid.ok()) << svid.status();
    identity::UniqueBignum bn(ASN1_INTEGER_to_BN(
        X509_get0_serialNumber(svid->chain.front().get()), nullptr));
    char* hex = BN_bn2hex(bn.get());
    *serial_hex = hex;
    OPENSSL_free(hex);
    pem_ = *identity::PrivateKeyToPkcs8Pem(*svid->key) +
           identity::CertsToPem(svid->chain);
    return identity::CertToDer(*svid->chain.front());
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  identity::Signer root_;
  std::string old_, new_, old_serial_, new_serial_, pem_;
  int pauses_ = 0;
  std::function<void()> pause_ = [this] { ++pauses_; };
};

TEST_F(WaitUntilServedTest, ReturnsOnceTheNewLeafIsServed) {
  std::vector<std::string> answers = {old_, old_, new_};
  size_t asked = 0;
  EXPECT_TRUE(
      WaitUntilServed(
          [&]() -> absl::StatusOr<std::string> { return answers[asked++]; },
          [&]() -> absl::StatusOr<std::string> { return new_; }, 1, 10, pause_)
          .ok());
  EXPECT_EQ(asked, 3u);
  EXPECT_EQ(pauses_, 2);
}

TEST_F(WaitUntilServedTest, NamesBothSerialsWhenTheBrokerKeepsTheOldOne) {
  EXPECT_THAT(
      WaitUntilServed([&]() -> absl::StatusOr<std::string> { return old_; },
                      [&]() -> absl::StatusOr<std::string> { return new_; }, 1,
                      3, pause_),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("still serves serial " + old_serial_ +
                         ", not the keystore file's " + new_serial_)));
  EXPECT_EQ(pauses_, 2);
}

TEST_F(WaitUntilServedTest, ReportsTheLastErrorWhenNothingAnswers) {
  EXPECT_THAT(
      WaitUntilServed(
          []() -> absl::StatusOr<std::string> {
            return absl::UnavailableError("connection refused");
          },
          [&]() -> absl::StatusOr<std::string> { return new_; }, 1, 2, pause_),
      StatusIs(absl::StatusCode::kUnavailable, "connection refused"));
}

TEST_F(WaitUntilServedTest, OneNetworkThreadOnTheOldLeafIsCaught) {
  // Three network threads in turn, the third stuck on the old leaf.
  size_t asked = 0;
  EXPECT_THAT(
      WaitUntilServed(
          [&]() -> absl::StatusOr<std::string> {
            return ++asked % 3 == 0 ? old_ : new_;
          },
          [&]() -> absl::StatusOr<std::string> { return new_; }, 6, 30, pause_),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("still serves serial " + old_serial_)));
  EXPECT_EQ(asked, 30u);
}

TEST_F(WaitUntilServedTest, NeedsTheMatchesInARow) {
  std::vector<std::string> answers = {new_, old_, new_, new_, new_};
  size_t asked = 0;
  EXPECT_TRUE(
      WaitUntilServed(
          [&]() -> absl::StatusOr<std::string> { return answers[asked++]; },
          [&]() -> absl::StatusOr<std::string> { return new_; }, 3, 10, pause_)
          .ok());
  EXPECT_EQ(asked, 5u);
  EXPECT_EQ(pauses_, 1);
}

TEST_F(WaitUntilServedTest, FirstCertOfAPemKeystoreIsItsLeaf) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/ks.pem";
  ASSERT_TRUE(identity::WriteFileAtomically(path, pem_, 0600).ok());
  absl::StatusOr<std::string> der = FirstCertDer(path);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, new_);  // pem_ holds the last minted: new_
}

}  // namespace
}  // namespace mayfly::bridge
