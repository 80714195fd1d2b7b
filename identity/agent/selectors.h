// Workload selectors: SPIRE's Unix workload attestor vocabulary.
//
// A selector is written "unix:KIND:VALUE". An entry matches a workload when
// every one of the entry's selectors is among the workload's (SPIRE's subset
// rule), so adding a selector to an entry narrows it.
#ifndef MAYFLY_IDENTITY_AGENT_SELECTORS_H_
#define MAYFLY_IDENTITY_AGENT_SELECTORS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::agent {

// The only selector type the agent's attestor produces.
inline constexpr absl::string_view kUnixSelectorType = "unix";
// POSIX allows longer names, but useradd and most NSS backends stop at 32.
inline constexpr size_t kMaxUserNameLength = 32;

// Parses and canonicalises one selector: numbers without leading zeros,
// sha256 in lowercase. InvalidArgument quoting the broken rule.
absl::StatusOr<std::string> CanonicalSelector(absl::string_view text);

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_SELECTORS_H_
