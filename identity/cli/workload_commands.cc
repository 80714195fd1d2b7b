// Workload API commands: `mayfly fetch x509|jwt`, `mayfly watch x509`
// (watch_commands.cc), `mayfly validate jwt`, `mayfly healthcheck`. The
// socket comes from --socket or SPIFFE_ENDPOINT_SOCKET.
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "identity/cli/command.h"
#include "identity/cli/watch_commands.h"
#include "identity/cli/workload_common.h"
#include "identity/duration.h"
#include "identity/workload/client.h"
#include "identity/x509_svid.h"

namespace mayfly::cli {
namespace {

using identity::workload::WorkloadClient;
using identity::workload::X509Context;

// Exit code of `healthcheck` and `fetch` when the agent cannot be reached,
// distinct from "reached and refused" (1).
constexpr int kExitUnreachable = 3;

int FailStatus(const absl::Status& status) {
  const bool unreachable = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kDeadlineExceeded;
  return Fail(status.ToString(), unreachable ? kExitUnreachable : kExitFailure);
}

// --socket and --timeout, which every one-shot agent command takes.
struct AgentFlags {
  AgentFlags(FlagSet& flags, std::string default_timeout)
      : timeout_text(std::move(default_timeout)) {
    flags.String("socket", &socket, kSocketHelp);
    flags.String("timeout", &timeout_text, "How long to wait for the agent.");
  }
  // `flags` holds pointers to the members.
  AgentFlags(const AgentFlags&) = delete;
  AgentFlags& operator=(const AgentFlags&) = delete;

  std::string socket;
  std::string timeout_text;
};

struct AgentConnection {
  std::unique_ptr<WorkloadClient> client;
  absl::Duration timeout;
};

// The client the flags name; on a bad flag, the usage exit code.
std::optional<int> ConnectOrExit(const AgentFlags& flags,
                                 AgentConnection& connection) {
  absl::StatusOr<absl::Duration> timeout =
      identity::ParseDuration(flags.timeout_text);
  if (!timeout.ok()) {
    return Fail("--timeout: " + std::string(timeout.status().message()),
                kExitUsage);
  }
  auto client = WorkloadClient::Create(flags.socket);
  if (!client.ok()) {
    return Fail(std::string(client.status().message()), kExitUsage);
  }
  connection = {std::move(*client), *timeout};
  return std::nullopt;
}

void PrintContext(const X509Context& context) {
  for (size_t i = 0; i < context.svids.size(); ++i) {
    const auto& svid = context.svids[i];
    std::cout << svid.id.ToString() << "\texpires "
              << absl::FormatTime(absl::RFC3339_sec,
                                  identity::CertNotAfter(*svid.chain[0]),
                                  absl::UTCTimeZone())
              << (i == 0 ? "\tdefault" : "")
              << (svid.hint.empty() ? "" : "\thint=" + svid.hint) << "\n";
  }
}

int FetchX509(const std::vector<std::string>& args) {
  std::string write_dir, spiffe_id;
  FlagSet flags(
      "mayfly fetch x509 [--socket PATH] [--write DIR [--spiffe-id ID]]",
      "Fetches this process's X.509-SVIDs from the agent and prints them, "
      "default\nfirst; with --write, switches DIR/svid.pem, svid_key.pem "
      "(0600),\nsvid_bundle.pem and svid_keystore.pem (key then chain, 0600, "
      "for Kafka)\nto the default one, or to --spiffe-id, at once (symlinks "
      "through\nDIR/..data).");
  AgentFlags agent_flags(flags, "10s");
  flags.String("write", &write_dir, "Directory to write the SVID to.");
  flags.String("spiffe-id", &spiffe_id,
               "Which SVID --write writes; default the first (the default).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (!spiffe_id.empty() && write_dir.empty()) {
    return Fail("--spiffe-id needs --write", kExitUsage);
  }
  AgentConnection agent;
  if (auto code = ConnectOrExit(agent_flags, agent)) return *code;
  absl::StatusOr<X509Context> context =
      agent.client->FetchX509Context(agent.timeout);
  if (!context.ok()) return FailStatus(context.status());
  PrintContext(*context);
  if (!write_dir.empty()) {
    if (absl::Status s = WriteSvid(write_dir, *context, spiffe_id); !s.ok()) {
      return Fail(s.ToString());
    }
  }
  return kExitOk;
}

int FetchJwt(const std::vector<std::string>& args) {
  std::string audience, spiffe_id;
  FlagSet flags("mayfly fetch jwt --audience AUD [--spiffe-id ID]",
                "Fetches a JWT-SVID for AUD and prints the token.");
  AgentFlags agent_flags(flags, "10s");
  flags.String("audience", &audience, "Audience (aud claim) of the token.");
  flags.String("spiffe-id", &spiffe_id,
               "Which of this process's identities; default the first.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (audience.empty()) return MissingFlag(flags, "audience");
  AgentConnection agent;
  if (auto code = ConnectOrExit(agent_flags, agent)) return *code;
  absl::StatusOr<std::string> token =
      agent.client->FetchJwtSvid(audience, spiffe_id, agent.timeout);
  if (!token.ok()) return FailStatus(token.status());
  std::cout << *token << "\n";
  return kExitOk;
}

int ValidateJwt(const std::vector<std::string>& args) {
  std::string audience;
  FlagSet flags("mayfly validate jwt --audience AUD TOKEN",
                "Asks the agent to validate a JWT-SVID for AUD; prints the "
                "SPIFFE ID it\nwas issued to. Exit 1 if it is not valid.");
  AgentFlags agent_flags(flags, "10s");
  flags.String("audience", &audience, "The audience the token must carry.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (audience.empty()) return MissingFlag(flags, "audience");
  if (positional.size() != 1) return Fail("want exactly one TOKEN", kExitUsage);
  AgentConnection agent;
  if (auto code = ConnectOrExit(agent_flags, agent)) return *code;
  absl::StatusOr<std::string> id =
      agent.client->ValidateJwtSvid(positional[0], audience, agent.timeout);
  if (!id.ok()) return FailStatus(id.status());
  std::cout << *id << "\n";
  return kExitOk;
}

int Healthcheck(const std::vector<std::string>& args) {
  FlagSet flags("mayfly healthcheck [--socket PATH]",
                "Exit 0 if the agent answers on its socket (whether or not it "
                "has an\nidentity for this process), 3 if it cannot be "
                "reached.");
  AgentFlags agent_flags(flags, "5s");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  AgentConnection agent;
  if (auto code = ConnectOrExit(agent_flags, agent)) return *code;
  absl::StatusOr<X509Context> context =
      agent.client->FetchX509Context(agent.timeout);
  // PermissionDenied is an answer: the agent is up, this caller has no entry.
  if (context.ok() ||
      context.status().code() == absl::StatusCode::kPermissionDenied) {
    std::cout << "agent is serving on " << agent.client->target() << "\n";
    return kExitOk;
  }
  return FailStatus(context.status());
}

std::vector<Command> WorkloadCommands() {
  return {
      {"fetch x509", "Fetch this process's X.509-SVIDs from the agent.",
       FetchX509},
      // In watch_commands.cc; registered here, so --help keeps its place.
      {"watch x509", "Keep SVID PEM files current (spiffe-helper style).",
       WatchX509},
      {"fetch jwt", "Fetch a JWT-SVID for an audience.", FetchJwt},
      {"validate jwt", "Validate a JWT-SVID through the agent.", ValidateJwt},
      {"healthcheck", "Check that the agent answers.", Healthcheck},
  };
}

const CommandGroupRegistrar kRegistrar("workload", WorkloadCommands);

}  // namespace
}  // namespace mayfly::cli
