// `mayfly entry load`: see entry_load.h.
#include "identity/admin/entry_load.h"

#include <iostream>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/admin/admin_client.h"
#include "identity/admin/command_util.h"
#include "identity/admin/entry_fields.h"
#include "identity/agent/config.h"
#include "identity/cli/command.h"

namespace mayfly::admin {
namespace {

using server::v1::Entry;

// What makes two entries the same registration: ID, parent, selector set.
std::string Key(const Entry& e) {
  std::set<std::string> selectors(e.selectors().begin(), e.selectors().end());
  return absl::StrCat(e.spiffe_id(), "\n", e.parent_id(), "\n",
                      absl::StrJoin(selectors, "\n"));
}

}  // namespace

int EntryLoad(const std::vector<std::string>& args) {
  const std::string command = "mayfly entry load";
  std::string parent;
  cli::FlagSet flags(
      "mayfly entry load FILE --parent ID",
      "Puts the entries of an agent entries file on the server under parent "
      "ID:\nan entry with the same SPIFFE ID, parent and selectors is "
      "updated if it\ndiffers, left alone if not, and created if there is "
      "none. Entries not in\nFILE are left alone. Prints \"N created, M "
      "updated, K unchanged\"; running it\nagain changes nothing.");
  flags.String("parent", &parent,
               "The agent SPIFFE ID (or node alias) every entry gets.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) {
    return Report(command, "want one FILE", cli::kExitUsage);
  }
  if (parent.empty()) return cli::MissingFlag(flags, "parent");
  if (absl::Status s = CheckSpiffeIdFlag("parent", parent); !s.ok()) {
    return Report(command, s.message(), cli::kExitUsage);
  }
  absl::StatusOr<std::vector<agent::EntryConfig>> configs =
      agent::LoadEntries(positional[0]);
  if (!configs.ok()) {
    return Report(command, configs.status().message(), cli::kExitFailure);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;

  server::v1::ListEntriesRequest request;
  request.set_parent_id(parent);
  server::v1::ListEntriesResponse listed;
  grpc::Status status =
      client->stub().ListEntries(client->Context().get(), request, &listed);
  if (!status.ok()) return CallFailed(command, status);
  std::map<std::string, Entry> existing;
  for (const Entry& e : listed.entries()) existing.emplace(Key(e), e);

  int created = 0, updated = 0, unchanged = 0;
  // What was done before a call failed, and which entry it was for.
  auto failed = [&](const agent::EntryConfig& config,
                    const grpc::Status& error) {
    std::cout << created << " created, " << updated << " updated, " << unchanged
              << " unchanged before the error\n";
    return CallFailed(absl::StrCat(command, ": ", config.source, ": ",
                                   config.spiffe_id.ToString()),
                      error);
  };
  for (const agent::EntryConfig& config : *configs) {
    Entry want = EntryFromConfig(config, parent);
    const auto it = existing.find(Key(want));
    Entry written;
    if (it == existing.end()) {
      status =
          client->stub().CreateEntry(client->Context().get(), want, &written);
      if (!status.ok()) return failed(config, status);
      ++created;
      continue;
    }
    want.set_id(it->second.id());
    want.set_jwt_ttl_seconds(it->second.jwt_ttl_seconds());
    if (SameContent(want, it->second)) {
      ++unchanged;
      continue;
    }
    status =
        client->stub().UpdateEntry(client->Context().get(), want, &written);
    if (!status.ok()) return failed(config, status);
    ++updated;
  }
  std::cout << created << " created, " << updated << " updated, " << unchanged
            << " unchanged\n";
  return cli::kExitOk;
}

}  // namespace mayfly::admin
