// `mayfly token create` and `mayfly agent list|evict`: the nodes that may
// join mayfly-server, through its Registration API (admin_client.h).
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "identity/admin/admin_client.h"
#include "identity/admin/command_util.h"
#include "identity/admin/entry_fields.h"
#include "identity/cli/command.h"
#include "identity/duration.h"
#include "identity/spiffe_id.h"

namespace mayfly::admin {
namespace {

using cli::kExitOk;
using cli::kExitUsage;

std::string UnixTime(int64_t seconds) {
  return seconds == 0 ? "-"
                      : absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                         absl::FromUnixSeconds(seconds),
                                         absl::UTCTimeZone());
}

int TokenCreate(const std::vector<std::string>& args) {
  const std::string command = "mayfly token create";
  std::string ttl;
  std::vector<std::string> aliases;
  cli::FlagSet flags(
      "mayfly token create [--ttl D] [--alias ID...]",
      "Creates a one-use join token for a new agent and prints it:\n"
      "  token: TOKEN\n  agent_id: SPIFFE_ID\n  expires: TIME\n"
      "The server keeps only its SHA-256: it cannot be shown again.");
  flags.String("ttl", &ttl,
               "How long the token may be used (empty: the "
               "server's default, 10m).");
  flags.List("alias", &aliases,
             "A node alias (SPIFFE ID) the agent will belong to; repeatable.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return Report(command, "takes no arguments", kExitUsage);
  }
  server::v1::CreateJoinTokenRequest request;
  if (!ttl.empty()) {
    absl::StatusOr<absl::Duration> d = identity::ParseDuration(ttl);
    if (!d.ok()) {
      return Report(command, absl::StrCat("--ttl: ", d.status().message()),
                    kExitUsage);
    }
    if (*d < absl::Seconds(1) ||
        *d != absl::Seconds(absl::ToInt64Seconds(*d))) {
      return Report(command, "--ttl: want whole seconds", kExitUsage);
    }
    request.set_ttl_seconds(absl::ToInt64Seconds(*d));
  }
  for (const std::string& alias : aliases) {
    if (absl::Status s = CheckSpiffeIdFlag("alias", alias); !s.ok()) {
      return Report(command, s.message(), kExitUsage);
    }
    request.add_aliases(alias);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::CreateJoinTokenResponse response;
  const grpc::Status status = client->stub().CreateJoinToken(
      client->Context().get(), request, &response);
  if (!status.ok()) return CallFailed(command, status);
  std::cout << "token: " << response.token()
            << "\nagent_id: " << response.agent_id()
            << "\nexpires: " << UnixTime(response.expires_at_unix()) << "\n";
  return kExitOk;
}

std::string AgentText(const server::v1::Agent& a) {
  return absl::StrCat(
      "spiffe_id: ", Printable(a.spiffe_id()),
      "\nattestation: ", Printable(a.attestation()),
      "\naliases: ", Printable(absl::StrJoin(a.aliases(), ", ")),
      "\nattested_at: ", UnixTime(a.attested_at_unix()),
      "\nsvid_serial: ", Printable(a.svid_serial()),
      "\nsvid_not_after: ", UnixTime(a.svid_not_after_unix()),
      "\nevicted: ", a.evicted() ? "true" : "false", "\n");
}

int AgentList(const std::vector<std::string>& args) {
  const std::string command = "mayfly agent list";
  cli::FlagSet flags("mayfly agent list",
                     "Prints every attested agent, one block each, a blank "
                     "line between blocks.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return Report(command, "takes no arguments", kExitUsage);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::ListAgentsResponse response;
  const grpc::Status status = client->stub().ListAgents(
      client->Context().get(), server::v1::ListAgentsRequest(), &response);
  if (!status.ok()) return CallFailed(command, status);
  for (int i = 0; i < response.agents_size(); ++i) {
    std::cout << (i == 0 ? "" : "\n") << AgentText(response.agents(i));
  }
  return kExitOk;
}

int AgentEvict(const std::vector<std::string>& args) {
  const std::string command = "mayfly agent evict";
  cli::FlagSet flags("mayfly agent evict AGENT_ID",
                     "Evicts an agent: its next renewal, sync and signing "
                     "calls are refused,\nso its workloads' SVIDs expire. "
                     "Prints the agent.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) {
    return Report(command, "want one AGENT_ID", kExitUsage);
  }
  if (absl::Status s = identity::SpiffeId::FromString(positional[0]).status();
      !s.ok()) {
    return Report(command, absl::StrCat("AGENT_ID: ", s.message()), kExitUsage);
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::AgentId id;
  id.set_spiffe_id(positional[0]);
  server::v1::Agent agent;
  const grpc::Status status =
      client->stub().EvictAgent(client->Context().get(), id, &agent);
  if (!status.ok()) return CallFailed(command, status);
  std::cout << AgentText(agent);
  return kExitOk;
}

std::vector<cli::Command> TokenCommands() {
  return {
      {"token create", "Create a join token for a new agent.", TokenCreate}};
}

std::vector<cli::Command> AgentCommands() {
  return {
      {"agent list", "List the agents mayfly-server has attested.", AgentList},
      {"agent evict", "Refuse an agent from now on.", AgentEvict},
  };
}

const cli::CommandGroupRegistrar kTokenRegistrar("token", TokenCommands);
const cli::CommandGroupRegistrar kAgentRegistrar("agent", AgentCommands);

}  // namespace
}  // namespace mayfly::admin
