// `mayfly watch x509` (watch_commands.h): the X.509 source's updates write
// the PEM files; this thread runs --exec or --signal after them, retrying a
// failure, until SIGINT, SIGTERM or --count updates.
#include "identity/cli/watch_commands.h"

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
#include "identity/cli/workload_common.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/workload/x509_source.h"
#include "identity/x509_svid.h"

namespace mayfly::cli {
namespace {

using identity::workload::X509Context;

// A failed --exec or --signal is tried again after this, doubling up to
// kActionRetryMax: often enough to catch a service that is starting, rarely
// enough not to hammer one that is down.
constexpr absl::Duration kActionRetryMin = absl::Seconds(1);
constexpr absl::Duration kActionRetryMax = absl::Seconds(30);

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

}  // namespace

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

}  // namespace mayfly::cli
