// Test certificates for the Kafka client library's tests, minted with the
// repo's own CA code (identity/x509_svid.h): a root and an intermediate per
// trust domain, and SVIDs signed by the intermediate, so every chain has two
// certificates below the root as in production.
#ifndef MAYFLY_KAFKA_CLIENT_TESTING_TEST_PKI_H_
#define MAYFLY_KAFKA_CLIENT_TESTING_TEST_PKI_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/x509_svid.h"

namespace mayfly::kafka::test_pki {

// When the tests' fake clocks start.
inline constexpr absl::Time kStart = absl::FromUnixSeconds(1800000000);
// The client's and the broker's SPIFFE IDs in the tests of the TLS leg.
inline constexpr absl::string_view kClientId = "spiffe://example.org/app";
inline constexpr absl::string_view kBrokerId =
    "spiffe://example.org/kafka/broker-1";

struct TestCa {
  identity::Signer root;
  identity::Signer intermediate;
  // Holds `root` only.
  identity::X509Bundle bundle;
};

// A root (24 h) and an intermediate (6 h) for `trust_domain`, minted at the
// clock's time. Aborts the test binary on failure (a broken fixture).
TestCa MakeCa(absl::string_view trust_domain, const identity::Clock& clock);

// An SVID for `id` ("spiffe://..."), signed by `ca.intermediate`.
identity::X509Svid MintSvid(const TestCa& ca, absl::string_view id,
                            absl::Duration ttl, const identity::Clock& clock);

}  // namespace mayfly::kafka::test_pki

#endif  // MAYFLY_KAFKA_CLIENT_TESTING_TEST_PKI_H_
