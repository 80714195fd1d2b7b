// The SPIFFE check of a broker's chain: see broker_verifier.h.
#include "kafka/client/upstream/broker_verifier.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::kafka {
namespace {

std::string JoinPatterns(const std::vector<identity::SpiffeIdPattern>& ps) {
  return absl::StrJoin(
      ps, ", ", [](std::string* out, const identity::SpiffeIdPattern& p) {
        out->append(p.ToString());
      });
}

}  // namespace

absl::Status CheckBrokerId(const identity::SpiffeId& id,
                           const BrokerIdPolicy& policy) {
  if (policy.brokers.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("broker presented ", id.ToString(),
                     ", but no broker IDs are configured (brokers)"));
  }
  for (const identity::SpiffeIdPattern& pattern : policy.brokers) {
    if (pattern.Matches(id)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("broker presented ", id.ToString(), ", expected ",
                   policy.brokers.size() == 1 ? "" : "one of ",
                   JoinPatterns(policy.brokers)));
}

absl::StatusOr<identity::SpiffeId> VerifyBroker(
    const identity::CertChain& chain, const BrokerIdPolicy& policy,
    const identity::workload::X509SvidSource& source, absl::Time now) {
  if (chain.empty()) {
    return absl::UnauthenticatedError("broker presented no certificate");
  }
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeIdFromCert(*chain.front());
  if (!id.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "broker presented no X.509-SVID: ", id.status().message()));
  }
  // The ID is checked before the chain only to name the precise reason; an
  // unverified ID can make this refuse, never accept.
  RETURN_IF_ERROR(CheckBrokerId(*id, policy));
  absl::StatusOr<identity::X509Bundle> bundle =
      source.GetX509BundleForTrustDomain(id->trust_domain());
  if (!bundle.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "broker presented ", id->ToString(), ", but there is no bundle for ",
        id->trust_domain().name(), ": ", bundle.status().message()));
  }
  absl::StatusOr<identity::VerifiedSvid> verified =
      identity::VerifyX509Svid(chain, *bundle, now);
  if (!verified.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "broker presented ", id->ToString(),
        " with an untrusted chain: ", verified.status().message()));
  }
  return std::move(verified->id);
}

}  // namespace mayfly::kafka
