// Server entries to registry entries, checked as the agent config checks
// its own: see FromServerEntry in server_agent.h.
#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/agent/remote/server_agent.h"
#include "identity/agent/remote/state_cache.h"
#include "identity/agent/selectors.h"
#include "identity/status_macros.h"

namespace mayfly::agent::remote {
namespace {

absl::Status Bad(const server::v1::Entry& entry, absl::string_view field,
                 absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("server entry ", entry.id(), ": ", field, ": ", why));
}

}  // namespace

absl::StatusOr<RegistrationEntry> FromServerEntry(
    const server::v1::Entry& entry, const identity::TrustDomain& trust_domain) {
  if (!ValidEntryId(entry.id())) return Bad(entry, "id", "not hex");
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(entry.spiffe_id());
  if (!id.ok()) return Bad(entry, "spiffe_id", id.status().message());
  if (!id->MemberOf(trust_domain)) {
    return Bad(
        entry, "spiffe_id",
        absl::StrCat("not in trust domain \"", trust_domain.name(), "\""));
  }
  RegistrationEntry out{*std::move(id)};
  for (const std::string& s : entry.selectors()) {
    absl::StatusOr<std::string> canonical = CanonicalSelector(s);
    if (!canonical.ok()) {
      return Bad(entry, "selectors", canonical.status().message());
    }
    out.selectors.push_back(*std::move(canonical));
  }
  std::sort(out.selectors.begin(), out.selectors.end());
  out.selectors.erase(std::unique(out.selectors.begin(), out.selectors.end()),
                      out.selectors.end());
  if (out.selectors.empty()) return Bad(entry, "selectors", "empty");
  if (entry.ttl_seconds() < 0 ||
      absl::Seconds(entry.ttl_seconds()) > kMaxSvidTtl) {
    return Bad(entry, "ttl_seconds", "out of range");
  }
  out.ttl = absl::Seconds(entry.ttl_seconds());
  out.dns_names.assign(entry.dns_names().begin(), entry.dns_names().end());
  if (entry.hint().size() > kMaxHintLength) {
    return Bad(entry, "hint", "too long");
  }
  out.hint = entry.hint();
  if (!entry.subject().empty()) {
    absl::StatusOr<SubjectTemplate> tmpl =
        ParseSubjectTemplate(entry.subject());
    if (!tmpl.ok()) return Bad(entry, "subject", tmpl.status().message());
    absl::StatusOr<identity::Subject> subject = ExpandSubject(*tmpl, out.id);
    if (!subject.ok()) return Bad(entry, "subject", subject.status().message());
    out.subject = *std::move(subject);
  }
  out.source = absl::StrCat("server entry ", entry.id());
  out.entry_id = entry.id();
  return out;
}

}  // namespace mayfly::agent::remote
