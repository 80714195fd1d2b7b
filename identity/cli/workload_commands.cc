// Workload API commands: `mayfly fetch x509|jwt`, `mayfly watch x509`,
// `mayfly validate jwt`, `mayfly healthcheck`. The socket comes from
// --socket or SPIFFE_ENDPOINT_SOCKET.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "identity/cli/command.h"
#include "identity/clock.h"
#include "identity/duration.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/svid_files.h"
#include "identity/workload/client.h"
#include "identity/workload/x509_source.h"
#include "identity/x509_svid.h"

namespace mayfly::cli {
namespace {

using identity::workload::WorkloadClient;
using identity::workload::X509Context;

constexpr char kSocketHelp[] =
    "Workload API socket (unix:///path or /path); default "
    "$SPIFFE_ENDPOINT_SOCKET.";

// Exit code of `healthcheck` and `fetch` when the agent cannot be reached,
// distinct from "reached and refused" (1).
constexpr int kExitUnreachable = 3;
// A failed --exec or --signal is tried again after this, doubling up to
// kActionRetryMax: often enough to catch a service that is starting, rarely
// enough not to hammer one that is down.
constexpr absl::Duration kActionRetryMin = absl::Seconds(1);
constexpr absl::Duration kActionRetryMax = absl::Seconds(30);

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

// The SVID `spiffe_id` names in `context`, or the default (the first) when
// it is empty. NotFound lists the IDs on offer.
absl::StatusOr<const identity::workload::X509SvidEntry*> PickSvid(
    const X509Context& context, const std::string& spiffe_id) {
  if (spiffe_id.empty()) return &context.svids.front();
  std::string offered;
  for (const auto& svid : context.svids) {
    if (svid.id.ToString() == spiffe_id) return &svid;
    absl::StrAppend(&offered, offered.empty() ? "" : ", ", svid.id.ToString());
  }
  return absl::NotFoundError(absl::StrCat("no SVID for ", spiffe_id,
                                          " in the agent's answer; it offers ",
                                          offered));
}

// Writes one SVID (see PickSvid) and its trust domain's bundle.
absl::Status WriteSvid(const std::string& dir, const X509Context& context,
                       const std::string& spiffe_id) {
  absl::StatusOr<const identity::workload::X509SvidEntry*> picked =
      PickSvid(context, spiffe_id);
  if (!picked.ok()) return picked.status();
  const identity::workload::X509SvidEntry& svid = **picked;
  const auto bundle = context.bundles.find(svid.id.trust_domain());
  if (bundle == context.bundles.end()) {
    return absl::InvalidArgumentError("no bundle for " +
                                      svid.id.trust_domain().name());
  }
  return identity::WriteSvidFiles(dir, svid.chain, *svid.key,
                                  bundle->second.roots());
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

// "PIDFILE:SIG" with SIG a name (HUP, SIGHUP) or a number.
struct SignalTarget {
  std::string pidfile;
  int signal = 0;
};

absl::StatusOr<SignalTarget> ParseSignalTarget(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        "--signal \"" + text +
        "\": want PIDFILE:SIGNAL, e.g. /run/app.pid:HUP");
  }
  SignalTarget target{text.substr(0, colon), 0};
  std::string name = absl::AsciiStrToUpper(text.substr(colon + 1));
  absl::string_view bare = name;
  absl::ConsumePrefix(&bare, "SIG");
  constexpr std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"TERM", SIGTERM},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"QUIT", SIGQUIT}};
  for (const auto& [n, s] : kNames) {
    if (bare == n) target.signal = s;
  }
  if (target.signal == 0 && !absl::SimpleAtoi(bare, &target.signal)) {
    return absl::InvalidArgumentError("--signal: unknown signal \"" +
                                      text.substr(colon + 1) + "\"");
  }
  return target;
}

absl::Status SendSignal(const SignalTarget& target) {
  absl::StatusOr<std::string> text = identity::ReadFile(target.pidfile);
  if (!text.ok()) return text.status();
  pid_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 0) {
    return absl::InvalidArgumentError(target.pidfile + ": no pid in it");
  }
  if (kill(pid, target.signal) != 0) {
    return absl::InternalError(absl::StrCat("kill(", pid, ", ", target.signal,
                                            "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status RunCommand(const std::string& command) {
  const pid_t child = fork();
  if (child < 0) return absl::InternalError("fork failed");
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return absl::InternalError(absl::StrCat(
        "--exec \"", command, "\" was killed by signal ", WTERMSIG(status)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        "--exec \"", command, "\" failed with status ", WEXITSTATUS(status)));
  }
  return absl::OkStatus();
}

int WatchX509(const std::vector<std::string>& args) {
  std::string socket, write_dir, spiffe_id, exec_command, signal_text,
      count_text = "0";
  FlagSet flags(
      "mayfly watch x509 --write DIR [--spiffe-id ID] [--exec CMD | --signal "
      "PIDFILE:SIG]",
      "Keeps svid.pem, svid_key.pem (0600), svid_bundle.pem and "
      "svid_keystore.pem\n(key then chain, 0600, for Kafka) in --write "
      "current, switching all four at\nonce on every rotation (symlinks "
      "through DIR/..data), then runs --exec or\nsignals the process in "
      "PIDFILE; a failed command or signal is retried (1s, doubling to\n30s) "
      "and "
      "never ends the watch. Runs until SIGINT or SIGTERM (or --count\n"
      "updates, each with its command run).");
  flags.String("socket", &socket, kSocketHelp);
  flags.String("write", &write_dir, "Directory for the PEM files.");
  flags.String("spiffe-id", &spiffe_id,
               "Which SVID to write; default the first (the default).");
  flags.String("exec", &exec_command, "Shell command to run after each write.");
  flags.String("signal", &signal_text,
               "PIDFILE:SIGNAL to send after each write, e.g. app.pid:HUP.");
  flags.String("count", &count_text,
               "Exit after this many updates (0: never).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (write_dir.empty()) return MissingFlag(flags, "write");
  if (!exec_command.empty() && !signal_text.empty()) {
    return Fail("--exec and --signal are exclusive", kExitUsage);
  }
  int64_t count = 0;
  if (!absl::SimpleAtoi(count_text, &count) || count < 0) {
    return Fail("--count: want a number >= 0", kExitUsage);
  }
  std::optional<SignalTarget> signal_target;
  if (!signal_text.empty()) {
    absl::StatusOr<SignalTarget> t = ParseSignalTarget(signal_text);
    if (!t.ok()) return Fail(std::string(t.status().message()), kExitUsage);
    signal_target = *t;
  }

  // Block the stop signals before any thread starts, then wait for them
  // here; every thread inherits the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::atomic<int64_t> written{0};
  std::atomic<bool> failed{false};
  // Set by each write, taken by the loop below, which runs --exec or
  // --signal: outside the source's callback, so a slow command never holds
  // up the stream, and a failed one is retried rather than ending the watch
  // (a broker that is not up yet at the first write must not stop it).
  std::atomic<bool> action_due{false};
  // The chain and bundle last written; only on_update (one thread) uses it.
  std::string last_written_state;
  identity::workload::X509Source::Options options;
  options.on_update = [&](std::shared_ptr<const X509Context> context) {
    absl::StatusOr<const identity::workload::X509SvidEntry*> svid =
        PickSvid(*context, spiffe_id);
    absl::Status s = svid.status();
    // An update may change only other SVIDs of this process (or their
    // bundles): then the files, and whoever --exec reloads, are left alone.
    std::string written_state;
    if (s.ok()) {
      written_state = identity::CertsToDer((*svid)->chain);
      const auto bundle = context->bundles.find((*svid)->id.trust_domain());
      if (bundle != context->bundles.end()) {
        written_state += bundle->second.ToDer();
      }
      if (written_state == last_written_state) return;
      s = WriteSvid(write_dir, *context, spiffe_id);
    }
    if (!s.ok()) {
      std::cerr << "mayfly: " << s << "\n";
      failed = true;
      return;
    }
    last_written_state = std::move(written_state);
    std::cout << "wrote " << write_dir << ": " << (*svid)->id.ToString()
              << " expires "
              << absl::FormatTime(absl::RFC3339_sec,
                                  identity::CertNotAfter(*(*svid)->chain[0]),
                                  absl::UTCTimeZone())
              << std::endl;
    if (signal_target || !exec_command.empty()) action_due = true;
    written.fetch_add(1);
  };
  options.on_error = [](const absl::Status& s) {
    std::cerr << "mayfly: Workload API stream: " << s << " (retrying)\n";
  };
  auto source = identity::workload::X509Source::Start(socket, options);
  if (!source.ok()) {
    return Fail(std::string(source.status().message()), kExitUsage);
  }
  constexpr timespec kPoll = {0, 200 * 1000 * 1000};
  const identity::Clock& clock = identity::RealClock();
  absl::Duration backoff = kActionRetryMin;
  absl::Duration next_attempt = clock.Monotonic();
  int code = kExitOk;
  while (true) {
    if (sigtimedwait(&stop, nullptr, &kPoll) > 0) break;
    if (failed.load()) {
      code = kExitFailure;
      break;
    }
    // Read before taking the action, so an update that lands meanwhile is
    // not counted as acted on.
    const int64_t seen = written.load();
    if (action_due.exchange(false)) {
      if (clock.Monotonic() < next_attempt) {
        action_due = true;  // Not yet: keep it due.
      } else {
        absl::Status s = signal_target ? SendSignal(*signal_target)
                                       : RunCommand(exec_command);
        if (s.ok()) {
          backoff = kActionRetryMin;
        } else {
          std::cerr << "mayfly: " << s << " (again in "
                    << absl::FormatDuration(backoff) << ")\n";
          next_attempt = clock.Monotonic() + backoff;
          backoff = std::min(backoff * 2, kActionRetryMax);
          action_due = true;
        }
      }
    }
    // With --count, the last update's action must have run too.
    if (count > 0 && seen >= count && !action_due.load()) break;
  }
  (*source)->Close();
  return code;
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
