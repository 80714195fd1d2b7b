// Is this broker the one we want? The SPIFFE check a Kafka client applies to
// the certificate chain a broker presents, before any Kafka byte is sent.
//
// A broker is accepted when, in this order:
//   1. its leaf carries exactly one URI SAN holding a valid SPIFFE ID
//      (identity::SpiffeIdFromCert);
//   2. that ID matches one of BrokerIdPolicy::brokers. There is no default:
//      every X.509-SVID carries serverAuth, so "any ID of my trust domain"
//      would accept any workload that gets between client and broker as
//      the broker. An empty list refuses every broker (KafkaIdentity's
//      Configure refuses it up front);
//   3. the chain verifies against the current bundle of the ID's trust
//      domain from the X509SvidSource (identity::VerifyX509Svid: leaf rules,
//      validity at `now`, a path to any root of the bundle, so a bundle
//      holding two roots during a root rotation accepts both). The bundle
//      is read on every call, so bundle rotations need nothing extra.
// There is no hostname check: the SPIFFE ID is the broker's name.
//
// Status codes: kPermissionDenied for a trusted-looking broker that is not
// one we want (step 2), kUnauthenticated for a chain that is not an SVID we
// trust (steps 1 and 3, including a trust domain with no bundle). Messages
// name the broker's ID and the rule; callers prefix the broker's address.
// Thread-safe (stateless; the source is thread-safe).
#ifndef MAYFLY_KAFKA_CLIENT_UPSTREAM_BROKER_VERIFIER_H_
#define MAYFLY_KAFKA_CLIENT_UPSTREAM_BROKER_VERIFIER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "identity/workload/x509_svid_source.h"

namespace mayfly::kafka {

struct BrokerIdPolicy {
  // The SPIFFE IDs a broker may present, as patterns with a bridge policy's
  // `brokers` semantics: "*" one segment, "**" (last) one or more; an ID
  // without wildcards matches only itself. Each names its trust domain.
  std::vector<identity::SpiffeIdPattern> brokers;
};

// Step 2 alone: kPermissionDenied naming `id` and the rule it breaks.
absl::Status CheckBrokerId(const identity::SpiffeId& id,
                           const BrokerIdPolicy& policy);

// Steps 1-3 on `chain` (leaf first, as sent by the broker; borrowed).
// Returns the broker's SPIFFE ID.
absl::StatusOr<identity::SpiffeId> VerifyBroker(
    const identity::CertChain& chain, const BrokerIdPolicy& policy,
    const identity::workload::X509SvidSource& source, absl::Time now);

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_UPSTREAM_BROKER_VERIFIER_H_
