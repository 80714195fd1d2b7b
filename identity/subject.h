// A certificate subject, as Mayfly's minting and the Kafka bridge see it.
//
// An X.509-SVID's identity is its URI SAN; the subject is only decoration,
// except for consumers that read nothing else: a stock Kafka broker builds
// its principal from the subject DN alone (RFC 2253 form). So entries may
// give their SVIDs a subject, and the bridge renders which one a stock broker
// needs.
#ifndef MAYFLY_IDENTITY_SUBJECT_H_
#define MAYFLY_IDENTITY_SUBJECT_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mayfly::identity {

// Subject attributes in the order they are encoded, short names as in
// RFC 4514 ("C", "O", "OU", "CN", ...), e.g. {{"O", "Mayfly"}, {"CN", "web"}}.
using Subject = std::vector<std::pair<std::string, std::string>>;

// X.520 upper bounds on attribute values (ub-common-name,
// ub-organization-name, ub-organizational-unit-name are all 64; RFC 5280
// Appendix A). A SPIFFE ID may be 2048 bytes, so most cannot be a CN.
inline constexpr size_t kMaxSubjectValueLength = 64;

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_SUBJECT_H_
