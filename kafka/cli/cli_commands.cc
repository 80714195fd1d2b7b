// `mayfly kafka produce` and `mayfly kafka consume`, the `kafka` command
// group of `mayfly` (it registers itself here; //:mayfly links it): a
// producer and a consumer group for demos, the soak and the benchmark. The
// runs are produce.h's and consume.h's; this file parses the flags, turns
// SIGINT and SIGTERM into an orderly end, prints the one summary line and
// picks the exit code.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <string>
#include <vector>

#include "identity/cli/command.h"
#include "kafka/cli/consume.h"
#include "kafka/cli/options.h"
#include "kafka/cli/produce.h"
#include "kafka/cli/summary.h"

namespace mayfly::cli {
namespace {

// Set by SIGINT or SIGTERM: the run flushes or leaves its group and
// reports, as at the end of --duration. A lock-free atomic store is
// async-signal-safe.
std::atomic<bool> stop_requested{false};

void RequestStop(int) { stop_requested.store(true); }

void StopOnSignals() {
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// Flags that parse but do not fit together are usage errors too.
int UsageError(const absl::Status& status, const FlagSet& flags) {
  std::cerr << "mayfly: " << status.message() << "\n\n" << flags.Help();
  return kExitUsage;
}

// What both commands do around their run: parse the flags into options
// (`bound` holds them), run until done or SIGINT/SIGTERM, print the one
// summary line, and exit 1 naming the problems, if any. A run that could
// not start exits 2 when the command line is at fault (InvalidArgument: a
// property librdkafka refuses, no socket, a --svid-dir without ..data).
template <typename Flags, typename Options, typename Summary>
int Run(FlagSet& flags, const Flags& bound,
        const std::vector<std::string>& args,
        absl::StatusOr<Summary> (*run)(const Options&,
                                       const kafka::cli::RunEnv&),
        std::string (*format)(const Summary&),
        std::string (*problems_of)(const Summary&), const char* name) {
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return UsageError(absl::InvalidArgumentError("unexpected argument \"" +
                                                 positional[0] + "\""),
                      flags);
  }
  absl::StatusOr<Options> options = bound.Options();
  if (!options.ok()) return UsageError(options.status(), flags);
  StopOnSignals();
  kafka::cli::RunEnv env;
  env.stop = &stop_requested;
  absl::StatusOr<Summary> summary = run(*options, env);
  if (!summary.ok()) {
    return Fail(summary.status().ToString(),
                summary.status().code() == absl::StatusCode::kInvalidArgument
                    ? kExitUsage
                    : kExitFailure);
  }
  std::cout << format(*summary) << std::endl;
  const std::string problems = problems_of(*summary);
  if (!problems.empty()) {
    return Fail(std::string(name) + " failed: " + problems);
  }
  return kExitOk;
}

int Produce(const std::vector<std::string>& args) {
  FlagSet flags(
      "mayfly kafka produce --bootstrap HOST:PORT --topic T [--count N] "
      "[--rate R]\n       [--duration D] [--size BYTES | --stdin] "
      "[--idempotent] [--acks all|1|0]\n       [--tls mayfly|files|none] "
      "[--property NAME=VALUE ...]",
      "Sends messages: by default key N and value \"seq=N \" padded to "
      "--size, for\nN = 0, 1, ...; with --stdin, a line each. Prints one "
      "line at the end:\n  produce: sent= delivered= failed= seconds= "
      "msgs_per_s= mb_per_s= p50_ms=\n  p99_ms= rotations= auth_errors= "
      "transport_errors=\nwith latency from produce to delivery report. "
      "Exit 0 only if failed=0.\nSIGINT or SIGTERM ends it early, flushed "
      "and reported.");
  kafka::cli::ProduceFlags produce_flags(flags);
  return Run(flags, produce_flags, args, kafka::cli::RunProduce,
             kafka::cli::FormatProduceSummary, kafka::cli::ProduceProblems,
             "produce");
}

int Consume(const std::vector<std::string>& args) {
  FlagSet flags(
      "mayfly kafka consume --bootstrap HOST:PORT --topic T --group G "
      "[--members N]\n       [--count N] [--duration D] [--idle-timeout D] "
      "[--expect N] [--from-beginning]\n       [--ready-file PATH] [--print] "
      "[--tls mayfly|files|none] [--property NAME=VALUE ...]",
      "Reads the topic as --members consumers of group G (one thread each) "
      "and counts\nthe messages by the sequence number in their keys. Prints "
      "one line at the end:\n  consume: received= distinct= duplicated= "
      "lost= rebalances= seconds=\n  msgs_per_s= rotations= auth_errors= "
      "transport_errors=\nwith rebalances counted once the group is steady "
      "(--ready-file). Exit 0 only\nif duplicated, lost, rebalances and "
      "auth_errors are all 0. SIGINT or SIGTERM\nends it early, reported.");
  kafka::cli::ConsumeFlags consume_flags(flags);
  return Run(flags, consume_flags, args, kafka::cli::RunConsume,
             kafka::cli::FormatConsumeSummary, kafka::cli::ConsumeProblems,
             "consume");
}

std::vector<Command> KafkaCommands() {
  return {
      {"kafka produce", "Produce sequence-numbered or stdin messages.",
       Produce},
      {"kafka consume", "Consume as a group, counting lost and duplicates.",
       Consume},
  };
}

const CommandGroupRegistrar kRegistrar("kafka", KafkaCommands);

}  // namespace
}  // namespace mayfly::cli
