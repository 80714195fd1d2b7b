// What a registration entry may say, checked when an operator creates or
// updates one, and the subject templates its SVIDs are minted with.
//
// TODO(server): the selector and subject-template grammars are the agent's
// (//identity/agent:config: CanonicalSelector, ParseSubjectTemplate), which
// is private to identity/agent. Until that target is visible to
// //identity/server, this file holds the same rules; once it is, call the
// agent's functions and delete the copies here (two parsers of one input
// must not drift).
#ifndef MAYFLY_IDENTITY_SERVER_ENTRY_RULES_H_
#define MAYFLY_IDENTITY_SERVER_ENTRY_RULES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/server/proto/server.pb.h"
#include "identity/spiffe_id.h"
#include "identity/subject.h"

namespace mayfly::server {

// The agent's SVID TTL bounds (identity/agent/config.h kMinSvidTtl,
// kMaxSvidTtl): rotation needs a few seconds; a day is far from "minutes".
inline constexpr absl::Duration kMinSvidTtl = absl::Seconds(10);
inline constexpr absl::Duration kMaxSvidTtl = absl::Hours(24);
// The agent's limits on a hint and a DNS name (RFC 1035).
inline constexpr size_t kMaxHintLength = 64;
inline constexpr size_t kMaxDnsNameLength = 253;
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
