// What a registration entry may say, checked when an operator creates or
// updates one, and the subject templates its SVIDs are minted with. The
// selector, DNS name and subject grammars are the agent's own
// (identity/agent/config.h), so an entry the server accepts is one an
// agent reads the same way.
#ifndef MAYFLY_IDENTITY_SERVER_ENTRY_RULES_H_
#define MAYFLY_IDENTITY_SERVER_ENTRY_RULES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/agent/config.h"
#include "identity/server/proto/server.pb.h"
#include "identity/spiffe_id.h"
#include "identity/subject.h"

namespace mayfly::server {

// The agent's bounds: SVID TTLs, a hint, a DNS name.
using agent::kMaxDnsNameLength;
using agent::kMaxHintLength;
using agent::kMaxSvidTtl;
using agent::kMinSvidTtl;
// Bounds on one entry, so a stored entry is a few KiB at most.
inline constexpr int kMaxSelectorsPerEntry = 32;
inline constexpr int kMaxDnsNamesPerEntry = 32;
inline constexpr size_t kMaxSelectorLength = 512;
inline constexpr size_t kMaxSubjectTemplateLength = 512;

// Checks `entry` for trust domain `td` and canonicalises it in place
// (selectors sorted and deduplicated). Ignores id and revision.
// InvalidArgument "FIELD: rule" for the first rule broken.
absl::Status ValidateEntry(const identity::TrustDomain& td, v1::Entry& entry);

// The subject an entry's SVIDs carry: its template with {spiffe_id},
// {trust_domain} and {path} filled in. Empty for an empty template.
absl::StatusOr<identity::Subject> EntrySubject(const v1::Entry& entry);

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_ENTRY_RULES_H_
