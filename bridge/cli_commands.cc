// `mayfly bridge check|map|render`: the policy checked, applied to IDs, and
// rendered for a stock broker. (plan, apply and reload-broker, which talk
// to a cluster, are in cluster_commands.cc.)
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/plugin.h"
#include "bridge/policy.h"
#include "bridge/properties_text.h"
#include "bridge/server_entries.h"
#include "bridge/stock.h"
#include "identity/admin/admin_client.h"
#include "identity/cli/command.h"
#include "identity/file_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::cli {
namespace {

using bridge::MapResult;
using bridge::Policy;

// The policy at `path`, or the exit code after saying what is wrong with it.
std::optional<int> LoadOrExit(const std::string& path,
                              std::optional<Policy>& policy) {
  absl::StatusOr<Policy> loaded = Policy::Load(path);
  if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
  policy.emplace(*std::move(loaded));
  return std::nullopt;
}

int BridgeCheck(const std::vector<std::string>& args) {
  FlagSet flags("mayfly bridge check POLICY",
                "Loads the bridge policy and runs every load-time check. "
                "Prints what it holds\n(and \"policy sha256:HEX\", the "
                "SHA-256 of the file, as the broker plugin logs it)\nand "
                "exits 0, or names FILE:LINE: FIELD of the first problem and "
                "exits 1.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) return Fail("want one POLICY", kExitUsage);
  std::optional<Policy> policy;
  if (auto code = LoadOrExit(positional[0], policy)) return *code;
  std::cout << positional[0] << ": valid: " << policy->trust_domains().size()
            << " trust domains, " << policy->rules().size() << " rules, "
            << policy->super_users().size() << " super users, "
            << policy->acls().size() << " ACL bindings\n";
  std::cout << bridge::kPolicyDigestLabel << policy->sha256() << "\n";
  for (size_t i = 0; i < policy->rules().size(); ++i) {
    const bridge::PrincipalRule& rule = policy->rules()[i];
    std::cout << "rule " << i << ": " << rule.id_pattern << " -> "
              << rule.principal_template << " (" << rule.source << ")\n";
  }
  for (const std::string& user : policy->super_users()) {
    std::cout << "super user: " << user << "\n";
  }
  for (const bridge::AclBinding& binding : policy->acls()) {
    std::cout << "acl: " << binding << "\n";
  }
  return kExitOk;
}

int BridgeMap(const std::vector<std::string>& args) {
  FlagSet flags("mayfly bridge map POLICY ID...",
                "Prints the Kafka principal the policy gives each SPIFFE ID, "
                "one line each:\n  ID -> PRINCIPAL\nor\n  ID: denied (REASON): "
                "DETAIL\nwith REASON invalid_id, foreign_trust_domain or "
                "unmapped. Exit 1 if any\nID is denied.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() < 2) {
    return Fail("want a POLICY and at least one ID", kExitUsage);
  }
  std::optional<Policy> policy;
  if (auto code = LoadOrExit(positional[0], policy)) return *code;
  int exit_code = kExitOk;
  for (size_t i = 1; i < positional.size(); ++i) {
    const std::string& id = positional[i];
    const MapResult result = policy->Map(id);
    if (result.principal.has_value()) {
      std::cout << id << " -> " << *result.principal << "\n";
    } else {
      std::cout << id << ": denied (" << bridge::DenialName(result.denial)
                << "): " << result.detail << "\n";
      exit_code = kExitFailure;
    }
  }
  return exit_code;
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

// Says on stderr what became of each entry that got no subject, and which
// subjects were replaced.
void ReportEntries(const bridge::StockEntries& rendered) {
  for (const bridge::StockEntry& e : rendered.entries) {
    if (e.outcome == bridge::StockEntry::Outcome::kSubject) {
      if (!e.replaced_subject.empty()) {
        std::cerr << "mayfly: " << e.source << ": " << e.spiffe_id
                  << ": subject \"" << e.replaced_subject << "\" replaced by \""
                  << e.detail << "\"\n";
      }
      continue;
    }
    std::cerr << "mayfly: " << e.source << ": " << e.spiffe_id;
    if (e.outcome == bridge::StockEntry::Outcome::kDenied) {
      std::cerr << ": " << e.detail;
    } else {
      std::cerr << " -> " << e.principal << ": not expressible in stock mode ("
                << e.detail << ")";
    }
    std::cerr << "; no subject for the broker's rule"
              << (e.removed_marked_subject ? " (marked subject removed)" : "")
              << ", so a stock broker refuses it\n";
  }
}

int RenderEntries(const Policy& policy, const std::string& in,
                  const std::string& out, bool skip_unexpressible) {
  absl::StatusOr<std::string> text = identity::ReadFile(in);
  if (!text.ok()) return Fail(text.status().ToString());
  absl::StatusOr<bridge::StockEntries> rendered =
      bridge::RenderStockEntries(policy, *text, in);
  if (!rendered.ok()) return Fail(std::string(rendered.status().message()));
  ReportEntries(*rendered);
  if (rendered->unexpressible > 0 && !skip_unexpressible) {
    return Fail(absl::StrCat(
        rendered->unexpressible,
        " entries map to principals a stock broker cannot give; nothing "
        "written (--skip-unexpressible writes ",
        out, " without subjects for them)"));
  }
  if (absl::Status s = identity::WriteFileAtomically(out, rendered->yaml,
                                                     identity::kPublicFileMode);
      !s.ok()) {
    return Fail(s.ToString());
  }
  const size_t with_subject =
      rendered->entries.size() - rendered->denied - rendered->unexpressible;
  std::cerr << "mayfly: wrote " << out << ": " << with_subject
            << " entries with a subject, " << rendered->denied << " denied, "
            << rendered->unexpressible << " not expressible\n";
  return kExitOk;
}

// --entries-server: the server's entries (those under `parent`, or all)
// given their subjects with UpdateEntry, as RenderEntries does to a file.
int RenderServerEntries(const Policy& policy, const admin::ServerFlags& server,
                        const std::string& parent, bool skip_unexpressible) {
  absl::StatusOr<std::unique_ptr<admin::AdminClient>> client =
      admin::AdminClient::Connect(server);
  if (!client.ok()) {
    return Fail(std::string(client.status().message()),
                client.status().code() == absl::StatusCode::kInvalidArgument
                    ? kExitUsage
                    : kExitFailure);
  }
  mayfly::server::v1::ListEntriesRequest request;
  request.set_parent_id(parent);
  mayfly::server::v1::ListEntriesResponse listed;
  grpc::Status status = (*client)->stub().ListEntries(
      (*client)->Context().get(), request, &listed);
  if (!status.ok()) {
    return Fail(absl::StrCat(server.server, ": ", admin::StatusText(status)));
  }
  absl::StatusOr<bridge::ServerEntriesRender> rendered =
      bridge::RenderServerEntries(
          policy, {listed.entries().begin(), listed.entries().end()});
  if (!rendered.ok()) return Fail(std::string(rendered.status().message()));
  ReportEntries(rendered->report);
  const bridge::StockEntries& report = rendered->report;
  if (report.unexpressible > 0 && !skip_unexpressible) {
    return Fail(absl::StrCat(
        report.unexpressible,
        " entries map to principals a stock broker cannot give; nothing "
        "updated on ",
        server.server, " (--skip-unexpressible updates the others)"));
  }
  int updated = 0;
  for (const mayfly::server::v1::Entry& entry : rendered->updates) {
    mayfly::server::v1::Entry written;
    status = (*client)->stub().UpdateEntry((*client)->Context().get(), entry,
                                           &written);
    if (!status.ok()) {
      return Fail(absl::StrCat(
          server.server, ": entry ", entry.id(), " (", entry.spiffe_id(),
          "): ", admin::StatusText(status), "; ", updated, " of ",
          rendered->updates.size(), " updated before it"));
    }
    ++updated;
  }
  const size_t with_subject =
      report.entries.size() - report.denied - report.unexpressible;
  std::cerr << "mayfly: updated " << updated << " entries on " << server.server
            << " (" << rendered->unchanged << " unchanged): " << with_subject
            << " entries with a subject, " << report.denied << " denied, "
            << report.unexpressible << " not expressible\n";
  return kExitOk;
}

int BridgeRender(const std::vector<std::string>& args) {
  bool stock = false, broker = false, skip_unexpressible = false;
  std::string svid_dir, listener, entries_in, entries_out, broker_id;
  FlagSet flags(
      "mayfly bridge render POLICY --stock --svid-dir DIR [--listener NAME] "
      "[--entries IN --entries-out OUT | --entries-server ADDRESS "
      "[--entries-parent ID]] [--skip-unexpressible]\n"
      "       mayfly bridge render POLICY --broker --svid-dir DIR "
      "--broker-spiffe-id ID",
      "--stock prints the properties a stock Kafka broker needs to give the "
      "policy's\nprincipals from certificate subjects, with no plugin; with "
      "--entries, writes\nthe agent entries file with each entry's subject "
      "set to match (with\n--entries-server, updates the entries a "
      "mayfly-server holds instead). An entry whose\nID the policy denies, or "
      "whose "
      "principal a subject cannot carry (not\nUser:NAME, NAME 1-64 of "
      "[A-Za-z0-9._-]), gets no such subject, so the broker\nrefuses it; "
      "each is named on stderr, and unexpressible ones make the exit\ncode "
      "1 (nothing written) unless --skip-unexpressible.\n--broker prints "
      "the properties a broker running the Mayfly broker plugin\n"
      "(kafka/broker-plugin) needs: its classes, the policy file (as an "
      "absolute\npath), the SVID directory, the broker's own SPIFFE ID (one "
      "of the policy's\nbrokers) and the policy's trust domains.");
  flags.Bool("stock", &stock, "Render for a stock broker.");
  flags.Bool("broker", &broker, "Render for the Mayfly broker plugin.");
  flags.String("svid-dir", &svid_dir,
               "Where `mayfly watch x509 --write` keeps the broker's SVID.");
  flags.String("broker-spiffe-id", &broker_id,
               "With --broker: this broker's SPIFFE ID, one of the policy's "
               "brokers.");
  flags.String("listener", &listener,
               "Prefix the ssl.* keys with listener.name.NAME.");
  flags.String("entries", &entries_in, "Agent entries file to read.");
  flags.String("entries-out", &entries_out,
               "Where to write it with subjects set (may be --entries).");
  admin::ServerFlags server;
  std::string entries_parent;
  flags.String("entries-server", &server.server,
               "Instead of a file: set the subjects of the entries held by "
               "this\n      mayfly-server, unix:///PATH (its admin socket) or "
               "HOST:PORT (mTLS).");
  flags.String("entries-parent", &entries_parent,
               "With --entries-server: only the entries under this parent.");
  flags.String("admin-svid-dir", &server.svid_dir,
               "With --entries-server HOST:PORT: the admin SVID directory.");
  flags.String("admin-bundle", &server.bundle,
               "With --entries-server HOST:PORT: the server's trust bundle.");
  flags.Bool("skip-unexpressible", &skip_unexpressible,
             "Write the entries even if some cannot be expressed.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) return Fail("want one POLICY", kExitUsage);
  if (stock == broker) {
    return Fail("want one of --stock and --broker", kExitUsage);
  }
  if (svid_dir.empty()) return MissingFlag(flags, "svid-dir");
  if (broker && broker_id.empty()) {
    return MissingFlag(flags, "broker-spiffe-id");
  }
  if (!broker && !broker_id.empty()) {
    return Fail("--broker-spiffe-id is for --broker", kExitUsage);
  }
  if (broker && (!listener.empty() || !entries_in.empty())) {
    return Fail(
        "--listener and --entries are for --stock: the plugin's settings are "
        "broker-wide, and it needs no entry subjects",
        kExitUsage);
  }
  if (entries_in.empty() != entries_out.empty()) {
    return Fail("--entries and --entries-out go together", kExitUsage);
  }
  if (!server.server.empty() && (broker || !entries_in.empty())) {
    return Fail("--entries-server is for --stock, instead of --entries",
                kExitUsage);
  }
  if (server.server.empty() &&
      (!entries_parent.empty() || !server.svid_dir.empty() ||
       !server.bundle.empty())) {
    return Fail(
        "--entries-parent, --admin-svid-dir and --admin-bundle are for "
        "--entries-server",
        kExitUsage);
  }
  if (!entries_parent.empty()) {
    if (absl::Status s =
            identity::SpiffeId::FromString(entries_parent).status();
        !s.ok()) {
      return Fail(absl::StrCat("--entries-parent: ", s.message()), kExitUsage);
    }
  }
  // What render writes into the broker's properties must not be able to
  // end a line there (properties_text.h escapes it too).
  for (const auto& [what, value] :
       {std::pair<const char*, const std::string&>{"POLICY", positional[0]},
        {"--svid-dir", svid_dir}}) {
    if (std::optional<std::string> c = bridge::FirstControlCharacter(value)) {
      return Fail(absl::StrCat(what, ": the path has a control character (", *c,
                               "); it would be written into the broker's "
                               "properties"),
                  kExitUsage);
    }
  }
  for (char c : listener) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') {
      return Fail("--listener: want a listener name of [A-Za-z0-9._-]",
                  kExitUsage);
    }
  }
  std::optional<Policy> policy;
  if (auto code = LoadOrExit(positional[0], policy)) return *code;
  if (absl::Status s = policy->RequireBrokers("mayfly bridge render");
      !s.ok()) {
    return Fail(absl::StrCat(positional[0], ": ", s.message()));
  }
  if (broker) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(broker_id);
    if (!id.ok()) {
      return Fail(absl::StrCat("--broker-spiffe-id: ", id.status().message()),
                  kExitUsage);
    }
    if (!policy->IsBroker(*id)) {
      return Fail(absl::StrCat("--broker-spiffe-id: ", broker_id,
                               " is not one of the brokers of ",
                               positional[0]));
    }
    std::cout << bridge::RenderPluginProperties(
        *policy, {Absolute(positional[0]), Absolute(svid_dir), broker_id});
    return kExitOk;
  }
  if (!server.server.empty()) {
    if (int code = RenderServerEntries(*policy, server, entries_parent,
                                       skip_unexpressible);
        code != kExitOk) {
      return code;
    }
  }
  if (!entries_in.empty()) {
    if (int code =
            RenderEntries(*policy, entries_in, entries_out, skip_unexpressible);
        code != kExitOk) {
      return code;
    }
  }
  std::cout << bridge::RenderStockProperties(
      *policy, {Absolute(svid_dir), listener, positional[0]});
  return kExitOk;
}

std::vector<Command> BridgeCommands() {
  return {
      {"bridge check", "Check a bridge policy file.", BridgeCheck},
      {"bridge map", "Map SPIFFE IDs to Kafka principals by a policy.",
       BridgeMap},
      {"bridge render", "Render broker properties (and entry subjects).",
       BridgeRender},
  };
}

const CommandGroupRegistrar kRegistrar("bridge", BridgeCommands);

}  // namespace
}  // namespace mayfly::cli
