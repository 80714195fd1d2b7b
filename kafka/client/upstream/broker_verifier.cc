// The SPIFFE check of a broker's chain: see broker_verifier.h.
#include "kafka/client/upstream/broker_verifier.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::kafka {
namespace {

std::string JoinIds(const std::vector<identity::SpiffeId>& ids) {
  return absl::StrJoin(ids, ", ",
                       [](std::string* out, const identity::SpiffeId& id) {
                         out->append(id.ToString());
                       });
}

std::string JoinDomains(const std::vector<identity::TrustDomain>& tds) {
  return absl::StrJoin(tds, ", ",
                       [](std::string* out, const identity::TrustDomain& td) {
                         out->append(td.name());
                       });
}

}  // namespace

absl::Status CheckBrokerId(const identity::SpiffeId& id,
                           const BrokerIdPolicy& policy,
                           const identity::TrustDomain& own_trust_domain) {
  if (!policy.trust_domains.empty()) {
    const bool allowed = std::any_of(
        policy.trust_domains.begin(), policy.trust_domains.end(),
        [&](const identity::TrustDomain& td) { return id.MemberOf(td); });
    if (!allowed) {
      return absl::PermissionDeniedError(
          absl::StrCat("broker presented ", id.ToString(),
                       ", outside the allowed trust domains (",
                       JoinDomains(policy.trust_domains), ")"));
    }
  } else if (policy.broker_ids.empty() && !id.MemberOf(own_trust_domain)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "broker presented ", id.ToString(), ", outside this client's trust ",
        "domain ", own_trust_domain.name(),
        " (allow others with trust_domains or broker_ids)"));
  }
  if (!policy.broker_ids.empty() &&
      std::find(policy.broker_ids.begin(), policy.broker_ids.end(), id) ==
          policy.broker_ids.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("broker presented ", id.ToString(), ", expected ",
                     policy.broker_ids.size() == 1 ? "" : "one of ",
                     JoinIds(policy.broker_ids)));
  }
  return absl::OkStatus();
}

absl::StatusOr<identity::SpiffeId> VerifyBroker(
    const identity::CertChain& chain, const BrokerIdPolicy& policy,
    const identity::TrustDomain& own_trust_domain,
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
  RETURN_IF_ERROR(CheckBrokerId(*id, policy, own_trust_domain));
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
