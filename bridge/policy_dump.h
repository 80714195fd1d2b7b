// A canonical text of a loaded policy, the same from the C++ bridge and the
// Java broker plugin (dev.mayfly.kafka.policy.PolicyDump), so that a
// differential test (tests/yaml_differential.sh) can feed both the same
// files and compare what each would enforce. Not a format for people.
#ifndef MAYFLY_BRIDGE_POLICY_DUMP_H_
#define MAYFLY_BRIDGE_POLICY_DUMP_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace mayfly::bridge {

// "error: MESSAGE\n" if the policy does not load; else its trust domains,
// rule count, super users, ACL binding count, whether it owns
// User:ANONYMOUS, and what each of a fixed list of IDs maps to, then each
// of `more_ids` (the differential test's generated IDs).
std::string DumpPolicy(absl::string_view yaml, absl::string_view source,
                       const std::vector<std::string>& more_ids = {});

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_POLICY_DUMP_H_
