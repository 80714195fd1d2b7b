// `mayfly kafka produce`: sends messages, generated or from stdin, and
// reports what was delivered and how fast.
//
// A generated message has key = its sequence number in decimal (0, 1, ...)
// and value = "seq=<n> " padded with 'x' to ProduceOptions.size bytes
// (never cut: a size below the prefix's gives the prefix alone). From
// stdin, each line is a message: "KEY<TAB>VALUE", or VALUE alone with no
// key. Messages go out paced to --rate, until --count, --duration, the end
// of stdin or env.stop; then the producer flushes for at most
// kProduceFlushTimeout and what is still undelivered is purged and counted
// failed. Latency is from rd_kafka_producev to the message's delivery
// report, by env.clock's monotonic reading.
#ifndef MAYFLY_KAFKA_CLI_PRODUCE_H_
#define MAYFLY_KAFKA_CLI_PRODUCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kafka/cli/options.h"
#include "kafka/cli/run_env.h"
#include "kafka/cli/summary.h"

namespace mayfly::kafka::cli {

// Bounds the final flush: long enough for a broker that is reconnecting,
// short enough that a run against a dead one still ends with its summary.
inline constexpr absl::Duration kProduceFlushTimeout = absl::Seconds(30);

// The value of generated message `seq`.
std::string GeneratedValue(int64_t seq, int64_t size);

// Runs one producer. An error status only when it could not start (a
// refused property, the client library's Configure); delivery failures
// are in the summary, with the first kFailureLinesShown on env.err.
absl::StatusOr<ProduceSummary> RunProduce(const ProduceOptions& options,
                                          const RunEnv& env);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_PRODUCE_H_
