// `mayfly kafka produce` and `mayfly kafka consume` (issue 11): a producer
// and a consumer group for demos, the soak and the benchmark. The runs are
// kafka/cli's (produce.h, consume.h); this file parses the flags, turns
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
std::optional<int> UsageError(const absl::Status& status,
                              const FlagSet& flags) {
  if (status.ok()) return std::nullopt;
  std::cerr << "mayfly: " << status.message() << "\n\n" << flags.Help();
  return kExitUsage;
}

// A run that could not start: InvalidArgument is the command line's fault
// (a property librdkafka refuses, no socket, a --svid-dir without ..data).
int FailToStart(const absl::Status& status) {
  return Fail(status.ToString(),
              status.code() == absl::StatusCode::kInvalidArgument
                  ? kExitUsage
                  : kExitFailure);
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
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return *UsageError(absl::InvalidArgumentError("unexpected argument \"" +
                                                  positional[0] + "\""),
                       flags);
  }
  absl::StatusOr<kafka::cli::ProduceOptions> options = produce_flags.Options();
  if (auto code = UsageError(options.status(), flags)) return *code;
  StopOnSignals();
  kafka::cli::RunEnv env;
  env.stop = &stop_requested;
  absl::StatusOr<kafka::cli::ProduceSummary> summary =
      kafka::cli::RunProduce(*options, env);
  if (!summary.ok()) return FailToStart(summary.status());
  std::cout << kafka::cli::FormatProduceSummary(*summary) << std::endl;
  if (summary->failed != 0) {
    return Fail("produce failed: failed=" + std::to_string(summary->failed));
  }
  return kExitOk;
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
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return *UsageError(absl::InvalidArgumentError("unexpected argument \"" +
                                                  positional[0] + "\""),
                       flags);
  }
  absl::StatusOr<kafka::cli::ConsumeOptions> options = consume_flags.Options();
  if (auto code = UsageError(options.status(), flags)) return *code;
  StopOnSignals();
  kafka::cli::RunEnv env;
  env.stop = &stop_requested;
  absl::StatusOr<kafka::cli::ConsumeSummary> summary =
      kafka::cli::RunConsume(*options, env);
  if (!summary.ok()) return FailToStart(summary.status());
  std::cout << kafka::cli::FormatConsumeSummary(*summary) << std::endl;
  const std::string problems = kafka::cli::ConsumeProblems(*summary);
  if (!problems.empty()) return Fail("consume failed: " + problems);
  return kExitOk;
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
