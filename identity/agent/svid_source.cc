// The single-node agent's SVID source: see svid_source.h.
#include "identity/agent/svid_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/keys.h"
#include "identity/status_macros.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {

std::string RegistrationEntry::Key() const {
  std::string subject_text;
  for (const auto& [attr, value] : subject) {
    absl::StrAppend(&subject_text, attr, "=", value, "\n");
  }
  std::string key = absl::StrCat(
      id.ToString(), "\0", absl::StrJoin(selectors, "\n"), "\0",
      absl::FormatDuration(ttl), "\0", absl::StrJoin(dns_names, "\n"), "\0",
      hint, "\0", subject_text);
  // Server entries with equal content but distinct IDs are distinct SVIDs
  // on the server; single-node keys stay as they were.
  if (!entry_id.empty()) absl::StrAppend(&key, "\0", entry_id);
  return key;
}

absl::StatusOr<SvidMaterial> LocalSvidSource::Get(
    const RegistrationEntry& entry, absl::Duration ttl,
    const SigningState& signing) {
  if (signing.signer == nullptr) {
    return absl::UnavailableError("the agent has no signing key yet");
  }
  identity::X509SvidRequest request{entry.id};
  request.ttl = ttl;
  request.dns_names = entry.dns_names;
  request.subject = entry.subject;
  ASSIGN_OR_RETURN(identity::X509SvidDer minted,
                   identity::MintX509SvidDer(request, *signing.signer, clock_));
  SvidMaterial out;
  out.leaf_der = std::move(minted.leaf_der);
  ASSIGN_OR_RETURN(out.key_der, identity::PrivateKeyToPkcs8Der(*minted.key));
  out.not_after = minted.not_after;
  return out;
}

}  // namespace mayfly::agent
