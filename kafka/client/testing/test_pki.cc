// Test certificates from the repo's own CA code: see test_pki.h.
#include "kafka/client/testing/test_pki.h"

#include <cstdlib>
#include <iostream>
#include <utility>

#include "identity/spiffe_id.h"

namespace mayfly::kafka::test_pki {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> value, absl::string_view what) {
  if (!value.ok()) {
    std::cerr << "test_pki: " << what << ": " << value.status() << "\n";
    std::abort();
  }
  return *std::move(value);
}

}  // namespace

TestCa MakeCa(absl::string_view trust_domain, const identity::Clock& clock) {
  const identity::TrustDomain td =
      OrDie(identity::TrustDomain::FromString(trust_domain), "trust domain");
  identity::Signer root = OrDie(
      identity::MintRootCa(identity::CaRequest{td, absl::Hours(24)}, clock),
      "root");
  identity::Signer intermediate =
      OrDie(identity::MintIntermediateCa(
                identity::CaRequest{td, absl::Hours(6)}, root, clock),
            "intermediate");
  identity::X509Bundle bundle(td);
  bundle.AddRoot(*root.cert);
  return TestCa{std::move(root), std::move(intermediate), std::move(bundle)};
}

identity::X509Svid MintSvid(const TestCa& ca, absl::string_view id,
                            absl::Duration ttl, const identity::Clock& clock) {
  identity::X509SvidRequest request{
      OrDie(identity::SpiffeId::FromString(id), "SPIFFE ID"), ttl};
  return OrDie(identity::MintX509Svid(request, ca.intermediate, clock), "SVID");
}

}  // namespace mayfly::kafka::test_pki
