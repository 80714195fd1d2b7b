// Each rule of broker_verifier.h, one case per rule, accepted and refused,
// with exact codes and the message part that names the rule.
#include "kafka/client/upstream/broker_verifier.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::mayfly::identity::SpiffeId;
using ::mayfly::identity::SpiffeIdPattern;
using ::mayfly::testing_util::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

SpiffeId Id(absl::string_view s) { return *SpiffeId::FromString(s); }

SpiffeIdPattern Pattern(absl::string_view s) {
  return *SpiffeIdPattern::FromString(s);
}

BrokerIdPolicy Brokers(std::vector<SpiffeIdPattern> brokers) {
  return BrokerIdPolicy{std::move(brokers)};
}

// No default: without broker IDs, not even an ID of the client's own trust
// domain is a broker (any workload's SVID carries serverAuth).
TEST(CheckBrokerIdTest, NoBrokersAcceptsNoBroker) {
  EXPECT_THAT(CheckBrokerId(Id("spiffe://example.org/kafka/1"), {}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("broker presented spiffe://example.org/kafka/1, "
                          "but no broker IDs are configured (brokers)")));
}

TEST(CheckBrokerIdTest, ExactIdsMatchThemselvesOnly) {
  BrokerIdPolicy policy = Brokers({Pattern("spiffe://other.org/kafka/1")});
  // An expected ID names its own trust domain.
  EXPECT_TRUE(CheckBrokerId(Id("spiffe://other.org/kafka/1"), policy).ok());
  EXPECT_THAT(CheckBrokerId(Id("spiffe://other.org/kafka/2"), policy),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("broker presented spiffe://other.org/kafka/2, "
                          "expected spiffe://other.org/kafka/1")));
  policy.brokers.push_back(Pattern("spiffe://example.org/kafka/3"));
  EXPECT_THAT(CheckBrokerId(Id("spiffe://example.org/kafka/2"), policy),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("broker presented spiffe://example.org/kafka/2, "
                          "expected one of spiffe://other.org/kafka/1, "
                          "spiffe://example.org/kafka/3")));
}

TEST(CheckBrokerIdTest, PatternsAsInAPolicysBrokers) {
  const BrokerIdPolicy policy =
      Brokers({Pattern("spiffe://example.org/kafka/*"),
               Pattern("spiffe://other.org/k/**")});
  EXPECT_TRUE(CheckBrokerId(Id("spiffe://example.org/kafka/b-1"), policy).ok());
  EXPECT_TRUE(CheckBrokerId(Id("spiffe://other.org/k/eu/b-2"), policy).ok());
  for (absl::string_view refused :
       {"spiffe://example.org/kafka", "spiffe://example.org/kafka/b/1",
        "spiffe://example.org/ns/kafka/sa/b", "spiffe://other.org/k",
        "spiffe://third.org/kafka/b-1"}) {
    EXPECT_THAT(CheckBrokerId(Id(refused), policy),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         HasSubstr("expected one of spiffe://example.org/"
                                   "kafka/*, spiffe://other.org/k/**")))
        << refused;
  }
}

class VerifyBrokerTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  identity::workload::FakeX509SvidSource source_{clock_};
  const BrokerIdPolicy brokers_ =
      Brokers({Pattern("spiffe://example.org/kafka/*")});
};

TEST_F(VerifyBrokerTest, TrustedChainGivesTheBrokersId) {
  source_.SetX509Bundle(ca_.bundle);
  const identity::X509Svid broker = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  absl::StatusOr<SpiffeId> id =
      VerifyBroker(broker.chain, brokers_, source_, clock_.Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/kafka/1");
  // The same chain once its leaf has expired.
  EXPECT_THAT(VerifyBroker(broker.chain, brokers_, source_,
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
  EXPECT_THAT(VerifyBroker(broker.chain, brokers_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("broker presented spiffe://other.org/kafka/1"
                                 ", expected spiffe://example.org/kafka/*")));
  const BrokerIdPolicy policy =
      Brokers({Pattern("spiffe://example.org/kafka/2")});
  const identity::X509Svid wrong = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  EXPECT_THAT(VerifyBroker(wrong.chain, policy, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("expected spiffe://example.org/kafka/2")));
}

TEST_F(VerifyBrokerTest, NoCertificateOrNoSvidRefused) {
  source_.SetX509Bundle(ca_.bundle);
  EXPECT_THAT(VerifyBroker({}, brokers_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("broker presented no certificate")));
  // A CA certificate as the leaf: its URI SAN is a valid ID (the trust
  // domain's, named a broker here), but it is no leaf SVID.
  identity::CertChain ca_only;
  ca_only.push_back(identity::ShareCert(ca_.intermediate.cert.get()));
  EXPECT_THAT(VerifyBroker(ca_only, Brokers({Pattern("spiffe://example.org")}),
                           source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("untrusted chain")));
}

TEST_F(VerifyBrokerTest, NoBundleYetRefused) {
  const identity::X509Svid broker = test_pki::MintSvid(
      ca_, "spiffe://example.org/kafka/1", absl::Minutes(5), clock_);
  EXPECT_THAT(VerifyBroker(broker.chain, brokers_, source_, clock_.Now()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("but there is no bundle for example.org")));
}

}  // namespace
}  // namespace mayfly::kafka
