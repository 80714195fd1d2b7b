// Each rule of broker_verifier.h, one case per rule, accepted and refused,
// with exact codes and the message part that names the rule.
#include "kafka/client/upstream/broker_verifier.h"

#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::SpiffeId;
using ::mayfly::identity::TrustDomain;
using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

SpiffeId Id(absl::string_view s) { return *SpiffeId::FromString(s); }
TrustDomain Td(absl::string_view s) { return *TrustDomain::FromString(s); }

TEST(CheckBrokerIdTest, DefaultIsTheClientsOwnTrustDomain) {
  const TrustDomain own = Td("example.org");
  EXPECT_TRUE(CheckBrokerId(Id("spiffe://example.org/b"), {}, own).ok());
  EXPECT_THAT(CheckBrokerId(Id("spiffe://other.org/b"), {}, own),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("broker presented spiffe://other.org/b, "
                                 "outside this client's trust domain "
                                 "example.org")));
}

TEST(CheckBrokerIdTest, AllowedTrustDomainsReplaceTheDefault) {
  BrokerIdPolicy policy;
  policy.trust_domains = {Td("other.org"), Td("third.org")};
  const TrustDomain own = Td("example.org");
  EXPECT_TRUE(CheckBrokerId(Id("spiffe://third.org/b"), policy, own).ok());
  EXPECT_THAT(CheckBrokerId(Id("spiffe://example.org/b"), policy, own),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("outside the allowed trust domains "
                                 "(other.org, third.org)")));
}

TEST(CheckBrokerIdTest, ExpectedIdsAreExactAndNameTheirTrustDomain) {
  BrokerIdPolicy policy;
  policy.broker_ids = {Id("spiffe://other.org/kafka/1")};
  const TrustDomain own = Td("example.org");
  // An expected ID in another trust domain needs no trust_domains entry.
  EXPECT_TRUE(
      CheckBrokerId(Id("spiffe://other.org/kafka/1"), policy, own).ok());
  EXPECT_THAT(CheckBrokerId(Id("spiffe://other.org/kafka/2"), policy, own),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("broker presented spiffe://other.org/kafka/2"
                                 ", expected spiffe://other.org/kafka/1")));
  policy.broker_ids.push_back(Id("spiffe://example.org/kafka/3"));
  EXPECT_THAT(CheckBrokerId(Id("spiffe://example.org/kafka/2"), policy, own),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("expected one of spiffe://other.org/kafka/1, "
                                 "spiffe://example.org/kafka/3")));
}

TEST(CheckBrokerIdTest, BothRulesApplyWhenBothAreGiven) {
  BrokerIdPolicy policy;
  policy.broker_ids = {Id("spiffe://other.org/kafka/1")};
  policy.trust_domains = {Td("example.org")};
  EXPECT_THAT(
      CheckBrokerId(Id("spiffe://other.org/kafka/1"), policy, Td("x.org")),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("outside the allowed trust domains (example.org)")));
}

class VerifyBrokerTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  const TrustDomain own_ = Td("example.org");
};

TEST_F(VerifyBrokerTest, TrustedChainGivesTheBrokersId) {
  source_.SetX509Bundle(ca_.bundle);
  const identity::X509Svid broker = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  absl::StatusOr<SpiffeId> id =
      VerifyBroker(broker.chain, {}, own_, source_, clock_.Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/kafka/1");
  // The same chain once its leaf has expired.
  EXPECT_THAT(VerifyBroker(broker.chain, {}, own_, source_,
                           clock_.Now() + absl::Minutes(6)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("with an untrusted chain")));
}

TEST_F(VerifyBrokerTest, IdIsCheckedBeforeTheChain) {
  // A broker of a trust domain we hold no bundle for: the reason given is
  // the ID rule, not the missing bundle.
  source_.SetX509Bundle(ca_.bundle);
  const test_pki::TestCa other = test_pki::MakeCa("other.org", clock_);
  const identity::X509Svid broker = test_pki::MintSvid(
      other, "spiffe://other.org/kafka/1", absl::Minutes(5), clock_);
  EXPECT_THAT(VerifyBroker(broker.chain, {}, own_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("broker presented spiffe://other.org/kafka/1"
                                 ", outside this client's trust domain")));
  BrokerIdPolicy policy;
  policy.broker_ids = {Id("spiffe://example.org/kafka/2")};
  const identity::X509Svid wrong = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  EXPECT_THAT(VerifyBroker(wrong.chain, policy, own_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("expected spiffe://example.org/kafka/2")));
}

TEST_F(VerifyBrokerTest, NoCertificateOrNoSvidRefused) {
  source_.SetX509Bundle(ca_.bundle);
  EXPECT_THAT(VerifyBroker({}, {}, own_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("broker presented no certificate")));
  // A CA certificate as the leaf: its URI SAN is a valid ID, but it is no
  // leaf SVID.
  identity::CertChain ca_only;
  ca_only.push_back(identity::ShareCert(ca_.intermediate.cert.get()));
  EXPECT_THAT(VerifyBroker(ca_only, {}, own_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("untrusted chain")));
}

TEST_F(VerifyBrokerTest, NoBundleYetRefused) {
  const identity::X509Svid broker = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  EXPECT_THAT(VerifyBroker(broker.chain, {}, own_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("but there is no bundle for example.org")));
}

}  // namespace
}  // namespace mayfly::kafka
