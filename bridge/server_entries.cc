// Stock subjects for mayfly-server's entries. See server_entries.h.
#include "bridge/server_entries.h"

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::bridge {

absl::StatusOr<ServerEntriesRender> RenderServerEntries(
    const Policy& policy, const std::vector<server::v1::Entry>& entries) {
  // The entries as an entries document holding what rendering reads.
  YAML::Emitter doc;
  doc << YAML::BeginMap << YAML::Key << "entries" << YAML::Value
      << YAML::BeginSeq;
  for (const server::v1::Entry& e : entries) {
    doc << YAML::BeginMap << YAML::Key << "spiffe_id" << YAML::Value
        << e.spiffe_id();
    if (!e.subject().empty()) {
      doc << YAML::Key << "subject" << YAML::Value << e.subject();
    }
    doc << YAML::EndMap;
  }
  doc << YAML::EndSeq << YAML::EndMap;
  ServerEntriesRender out;
  ASSIGN_OR_RETURN(out.report,
                   RenderStockEntries(policy, doc.c_str(), "server entries"));
  if (out.report.entries.size() != entries.size()) {
    return absl::InternalError("rendering lost track of the entries");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    StockEntry& report = out.report.entries[i];
    report.source = absl::StrCat("entry ", entries[i].id());
    std::string subject = entries[i].subject();
    if (report.outcome == StockEntry::Outcome::kSubject) {
      subject = report.detail;
    } else if (report.removed_marked_subject) {
      subject.clear();
    }
    if (subject == entries[i].subject()) {
      ++out.unchanged;
      continue;
    }
    server::v1::Entry update = entries[i];
    update.set_subject(subject);
    out.updates.push_back(std::move(update));
  }
  return out;
}

}  // namespace mayfly::bridge
