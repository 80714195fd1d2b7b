// Registration entries on the command line: the flags that describe one,
// checked by the agent's own rules before anything is sent, and the two
// ways one is printed.
//
// The checks are the agent's (identity/agent/config.h), so an entry the CLI
// accepts is one an agent entries file could hold, and the reverse: SPIFFE
// IDs parse, selectors are made canonical (CanonicalSelector), sorted and
// deduplicated, TTLs are durations from kMinSvidTtl to kMaxSvidTtl, DNS
// names and the hint obey the entries file's limits, and a subject template
// parses and expands for the entry's ID.
#ifndef MAYFLY_IDENTITY_ADMIN_ENTRY_FIELDS_H_
#define MAYFLY_IDENTITY_ADMIN_ENTRY_FIELDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/agent/config.h"
#include "identity/cli/flags.h"
#include "identity/server/proto/server.pb.h"

namespace mayfly::admin {

struct EntryFlags {
  std::string spiffe_id;
  std::string parent;
  std::vector<std::string> selectors;
  std::string ttl;
  std::string jwt_ttl;
  std::vector<std::string> dns;
  std::string hint;
  std::string subject;

  void AddTo(cli::FlagSet& flags);
  // The entry the flags describe (no id). InvalidArgument "--FLAG: why"
  // for the first flag that breaks a rule, or names a missing one.
  absl::StatusOr<server::v1::Entry> ToEntry() const;
};

// An entry of an agent entries file as the server holds it, under `parent`.
server::v1::Entry EntryFromConfig(const agent::EntryConfig& config,
                                  const std::string& parent);

// A subject template written back as text, commas in values escaped, so
// that ParseSubjectTemplate reads it back to the same template.
std::string SubjectText(const agent::SubjectTemplate& subject);

// Whether two entries say the same (ids and revisions aside). Selectors are
// compared as sets; subjects after parsing, when both parse.
bool SameContent(const server::v1::Entry& a, const server::v1::Entry& b);

// `value` as is, or C-escaped if it holds a control character: what the
// server sends cannot add lines to the output or drive the terminal.
std::string Printable(absl::string_view value);

// "id: ...\nspiffe_id: ...\n...", one "name: value" line per field, id
// first; repeated fields joined by ", ", each value Printable.
std::string EntryText(const server::v1::Entry& entry);
// One JSON object, fields in proto order, TTLs in seconds.
std::string EntryJson(const server::v1::Entry& entry);

}  // namespace mayfly::admin

#endif  // MAYFLY_IDENTITY_ADMIN_ENTRY_FIELDS_H_
