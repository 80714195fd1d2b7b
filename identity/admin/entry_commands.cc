// `mayfly entry create|update|delete|show|list|load`: registration entries
// on mayfly-server, through its Registration API (admin_client.h).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "identity/admin/admin_client.h"
#include "identity/admin/command_util.h"
#include "identity/admin/entry_fields.h"
#include "identity/admin/entry_load.h"
#include "identity/cli/command.h"

namespace mayfly::admin {
namespace {

using cli::kExitOk;
using cli::kExitUsage;
using server::v1::Entry;

constexpr char kEntryFlagsUsage[] =
    "--spiffe-id ID --parent ID --selector unix:KIND:VALUE... [--ttl D] "
    "[--jwt-ttl D] [--dns NAME...] [--hint H] [--subject TEMPLATE]";

// create and update: the whole entry from flags, sent as `id` (update) or
// without one (create).
int WriteEntry(const std::vector<std::string>& args, bool update) {
  const std::string command =
      update ? "mayfly entry update" : "mayfly entry create";
  cli::FlagSet flags(
      absl::StrCat(command, update ? " ID " : " ", kEntryFlagsUsage),
      update ? "Replaces every field of entry ID with what the flags say (a "
               "flag left out\nclears its field) and prints the entry."
             : "Creates a registration entry and prints it, id first.");
  EntryFlags entry_flags;
  ServerFlags server_flags;
  entry_flags.AddTo(flags);
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != (update ? 1u : 0u)) {
    return Report(command, update ? "want one ID" : "takes no arguments",
                  kExitUsage);
  }
  absl::StatusOr<Entry> entry = entry_flags.ToEntry();
  if (!entry.ok()) return Report(command, entry.status().message(), kExitUsage);
  if (update) {
    if (absl::Status s = CheckEntryId(positional[0]); !s.ok()) {
      return Report(command, s.message(), kExitUsage);
    }
    entry->set_id(positional[0]);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  Entry written;
  const grpc::Status status =
      update ? client->stub().UpdateEntry(client->Context().get(), *entry,
                                          &written)
             : client->stub().CreateEntry(client->Context().get(), *entry,
                                          &written);
  if (!status.ok()) return CallFailed(command, status);
  std::cout << EntryText(written);
  return kExitOk;
}

int EntryCreate(const std::vector<std::string>& args) {
  return WriteEntry(args, /*update=*/false);
}

int EntryUpdate(const std::vector<std::string>& args) {
  return WriteEntry(args, /*update=*/true);
}

// delete and show: one entry by id.
int ById(const std::vector<std::string>& args, bool remove) {
  const std::string command =
      remove ? "mayfly entry delete" : "mayfly entry show";
  cli::FlagSet flags(absl::StrCat(command, " ID"),
                     remove ? "Deletes entry ID; its workloads get no new "
                              "SVID from it once their agents sync."
                            : "Prints entry ID.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) return Report(command, "want one ID", kExitUsage);
  if (absl::Status s = CheckEntryId(positional[0]); !s.ok()) {
    return Report(command, s.message(), kExitUsage);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::EntryId id;
  id.set_id(positional[0]);
  if (remove) {
    server::v1::DeleteEntryResponse response;
    const grpc::Status status =
        client->stub().DeleteEntry(client->Context().get(), id, &response);
    if (!status.ok()) return CallFailed(command, status);
    std::cout << "deleted " << id.id() << "\n";
    return kExitOk;
  }
  Entry entry;
  const grpc::Status status =
      client->stub().GetEntry(client->Context().get(), id, &entry);
  if (!status.ok()) return CallFailed(command, status);
  std::cout << EntryText(entry);
  return kExitOk;
}

int EntryDelete(const std::vector<std::string>& args) {
  return ById(args, /*remove=*/true);
}

int EntryShow(const std::vector<std::string>& args) {
  return ById(args, /*remove=*/false);
}

int EntryList(const std::vector<std::string>& args) {
  const std::string command = "mayfly entry list";
  std::string parent, spiffe_id, format = "text";
  cli::FlagSet flags(
      "mayfly entry list [--parent ID] [--spiffe-id ID] [--format text|json]",
      "Prints the entries the filters match (all without filters): in text, "
      "one\nblock per entry and a blank line between blocks; in JSON, one "
      "object\n{\"revision\":N,\"entries\":[...]}.");
  flags.String("parent", &parent, "Only entries with this parent.");
  flags.String("spiffe-id", &spiffe_id, "Only entries giving this ID.");
  flags.String("format", &format, "text or json.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty())
    return Report(command, "takes no arguments", kExitUsage);
  if (format != "text" && format != "json") {
    return Report(command, "--format: want text or json", kExitUsage);
  }
  server::v1::ListEntriesRequest request;
  for (const auto& [flag, value] :
       {std::pair<const char*, const std::string&>{"parent", parent},
        {"spiffe-id", spiffe_id}}) {
    if (value.empty()) continue;
    if (absl::Status s = CheckSpiffeIdFlag(flag, value); !s.ok()) {
      return Report(command, s.message(), kExitUsage);
    }
  }
  request.set_parent_id(parent);
  request.set_spiffe_id(spiffe_id);
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::ListEntriesResponse response;
  const grpc::Status status =
      client->stub().ListEntries(client->Context().get(), request, &response);
  if (!status.ok()) return CallFailed(command, status);
  if (format == "json") {
    std::cout << "{\"revision\":" << response.revision() << ",\"entries\":[";
    for (int i = 0; i < response.entries_size(); ++i) {
      std::cout << (i == 0 ? "" : ",") << EntryJson(response.entries(i));
    }
    std::cout << "]}\n";
    return kExitOk;
  }
  for (int i = 0; i < response.entries_size(); ++i) {
    std::cout << (i == 0 ? "" : "\n") << EntryText(response.entries(i));
  }
  return kExitOk;
}

std::vector<cli::Command> EntryCommands() {
  return {
      {"entry create", "Create a registration entry on mayfly-server.",
       EntryCreate},
      {"entry update", "Replace a registration entry.", EntryUpdate},
      {"entry delete", "Delete a registration entry.", EntryDelete},
      {"entry show", "Print a registration entry.", EntryShow},
      {"entry list", "List registration entries.", EntryList},
      {"entry load", "Create or update entries from an agent entries file.",
       EntryLoad},
  };
}

const cli::CommandGroupRegistrar kRegistrar("entry", EntryCommands);

}  // namespace
}  // namespace mayfly::admin
