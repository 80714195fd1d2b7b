// Entry validation and subject templates, by the agent's own grammars
// (identity/agent/config.h).
#include "identity/server/entry_rules.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "identity/agent/selectors.h"
#include "identity/jwt.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

constexpr absl::string_view kReservedPath = "/mayfly";
constexpr absl::string_view kReservedPathPrefix = "/mayfly/";

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

}  // namespace

absl::StatusOr<identity::Subject> EntrySubject(const v1::Entry& entry) {
  if (entry.subject().empty()) return identity::Subject();
  ASSIGN_OR_RETURN(agent::SubjectTemplate tmpl,
                   agent::ParseSubjectTemplate(entry.subject()));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(entry.spiffe_id()));
  return agent::ExpandSubject(tmpl, id);
}

absl::Status ValidateEntry(const identity::TrustDomain& td, v1::Entry& entry) {
  for (const auto& [field, value] :
       {std::pair<absl::string_view, const std::string*>{"spiffe_id",
                                                         &entry.spiffe_id()},
        {"parent_id", &entry.parent_id()}}) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(*value);
    if (!id.ok()) return Invalid(field, id.status().message());
    if (!id->MemberOf(td)) {
      return Invalid(
          field,
          absl::StrCat("\"", *value, "\" is not in trust domain ", td.name()));
    }
  }
  // spiffe://TD/mayfly/... names the system itself: the server's TLS
  // identity (which agents trust as the server), agents (which the Node
  // API trusts as nodes) and node aliases. A workload holding one could
  // pose as the server to every agent, or as a node to the server.
  const absl::string_view path =
      absl::string_view(entry.spiffe_id()).substr(td.IdString().size());
  if (path == kReservedPath || absl::StartsWith(path, kReservedPathPrefix)) {
    return Invalid("spiffe_id",
                   absl::StrCat("\"", entry.spiffe_id(), "\": ", kReservedPath,
                                "/... is reserved for mayfly-server and its "
                                "agents"));
  }
  if (entry.selectors().empty()) {
    return Invalid("selectors", "at least one selector is required");
  }
  if (entry.selectors_size() > kMaxSelectorsPerEntry) {
    return Invalid("selectors",
                   absl::StrCat("at most ", kMaxSelectorsPerEntry));
  }
  std::set<std::string> selectors;
  for (int i = 0; i < entry.selectors_size(); ++i) {
    const std::string field = absl::StrCat("selectors[", i, "]");
    if (entry.selectors(i).size() > kMaxSelectorLength) {
      return Invalid(field, absl::StrCat("longer than ", kMaxSelectorLength));
    }
    absl::StatusOr<std::string> s =
        agent::CanonicalSelector(entry.selectors(i));
    if (!s.ok()) return Invalid(field, s.status().message());
    selectors.insert(*std::move(s));
  }
  entry.clear_selectors();
  for (const std::string& s : selectors) entry.add_selectors(s);
  if (entry.ttl_seconds() != 0 &&
      (entry.ttl_seconds() < absl::ToInt64Seconds(kMinSvidTtl) ||
       entry.ttl_seconds() > absl::ToInt64Seconds(kMaxSvidTtl))) {
    return Invalid("ttl_seconds",
                   absl::StrCat(entry.ttl_seconds(), " is outside ",
                                absl::ToInt64Seconds(kMinSvidTtl), "..",
                                absl::ToInt64Seconds(kMaxSvidTtl)));
  }
  if (entry.jwt_ttl_seconds() < 0 ||
      entry.jwt_ttl_seconds() >
          absl::ToInt64Seconds(identity::kMaxJwtSvidTtl)) {
    return Invalid(
        "jwt_ttl_seconds",
        absl::StrCat(entry.jwt_ttl_seconds(), " is outside 0..",
                     absl::ToInt64Seconds(identity::kMaxJwtSvidTtl)));
  }
  if (entry.dns_names_size() > kMaxDnsNamesPerEntry) {
    return Invalid("dns_names", absl::StrCat("at most ", kMaxDnsNamesPerEntry));
  }
  for (int i = 0; i < entry.dns_names_size(); ++i) {
    if (!agent::IsValidDnsName(entry.dns_names(i))) {
      return Invalid(
          absl::StrCat("dns_names[", i, "]"),
          absl::StrCat("\"", entry.dns_names(i), "\" is not a DNS name"));
    }
    // As the agent's entries file does: DNS names are case-insensitive,
    // and a CSR names them as the agent stores them.
    *entry.mutable_dns_names(i) = absl::AsciiStrToLower(entry.dns_names(i));
  }
  if (entry.hint().size() > kMaxHintLength) {
    return Invalid("hint", absl::StrCat("longer than ", kMaxHintLength));
  }
  if (entry.subject().size() > kMaxSubjectTemplateLength) {
    return Invalid("subject",
                   absl::StrCat("longer than ", kMaxSubjectTemplateLength));
  }
  // Expanding with this entry's ID catches length limits now, not at mint.
  if (auto subject = EntrySubject(entry); !subject.ok()) {
    return Invalid("subject", subject.status().message());
  }
  return absl::OkStatus();
}

}  // namespace mayfly::server
