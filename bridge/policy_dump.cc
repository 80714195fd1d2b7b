// The canonical policy dump: see policy_dump.h. Its twin is PolicyDump.java;
// a change here is a change there.
#include "bridge/policy_dump.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/policy.h"

namespace mayfly::bridge {
namespace {

// IDs that reach each kind of rule of bridge/testdata/mapping_policy.yaml,
// the seed of the differential test, and each kind of denial.
constexpr absl::string_view kProbes[] = {
    "spiffe://prod.acme/ns/payments/sa/admin",
    "spiffe://prod.acme/ns/a/sa/b",
    "spiffe://prod.acme/kafka/broker",
    "spiffe://prod.acme/team/x/y/z",
    "spiffe://prod.acme/region/eu/svc/s",
    "spiffe://prod.acme/groups/g",
    "spiffe://staging.acme/ns/a/sa/b",
    "spiffe://staging.acme",
    "spiffe://prod.acme/ns/x",
    "spiffe://prod.acme/other",
    "spiffe://evil.acme/x",
};

void AppendMap(const Policy& policy, absl::string_view id, std::string& out) {
  const MapResult m = policy.Map(id);
  absl::StrAppend(&out, "map ", id, ": ",
                  m.principal.has_value()
                      ? *m.principal
                      : absl::StrCat("denied ", DenialName(m.denial)),
                  " (", m.detail, ")\n");
}

}  // namespace

std::string DumpPolicy(absl::string_view yaml, absl::string_view source,
                       const std::vector<std::string>& more_ids) {
  absl::StatusOr<Policy> policy = Policy::Parse(yaml, source);
  if (!policy.ok())
    return absl::StrCat("error: ", policy.status().message(), "\n");
  std::vector<std::string> domains;
  for (const identity::TrustDomain& td : policy->trust_domains()) {
    domains.push_back(td.name());
  }
  std::string out = absl::StrCat(
      "trust_domains: ", absl::StrJoin(domains, ", "), "\n",
      "rules: ", policy->rules().size(), "\n",
      "super_users: ", absl::StrJoin(policy->super_users(), ", "), "\n",
      "acl_bindings: ", policy->acls().size(), "\n", "owns User:ANONYMOUS: ",
      policy->Owns("User:ANONYMOUS") ? "true" : "false", "\n");
  for (absl::string_view id : kProbes) AppendMap(*policy, id, out);
  for (const std::string& id : more_ids) AppendMap(*policy, id, out);
  return out;
}

}  // namespace mayfly::bridge
