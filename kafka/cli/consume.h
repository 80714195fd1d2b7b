// `mayfly kafka consume`: a consumer group of ConsumeOptions.members
// handles in this process, one thread each, that counts what arrives by
// sequence number (the keys produce generates, see produce.h).
//
// Each member subscribes to the topic; its rebalance callback assigns what
// it is given (eager or cooperative, whichever protocol the group runs) and
// tells a GroupState (group_state.h). Once the group is steady, --ready-file
// is created. The run ends at --count distinct sequence numbers,
// --duration, --idle-timeout after the last message (once one has
// arrived) or env.stop; then every member leaves the group
// (rd_kafka_consumer_close) and the summary is made. Offsets are committed
// by librdkafka's auto-commit.
#ifndef MAYFLY_KAFKA_CLI_CONSUME_H_
#define MAYFLY_KAFKA_CLI_CONSUME_H_

#include "absl/status/statusor.h"
#include "kafka/cli/options.h"
#include "kafka/cli/run_env.h"
#include "kafka/cli/summary.h"

namespace mayfly::kafka::cli {

// Runs the group. An error status only when it could not start (a refused
// property, the client library's Configure, the subscription, the ready
// file); consumed errors are in the summary, the first kFailureLinesShown
// on env.err. With --print, one "KEY<TAB>VALUE" line per message on
// env.out.
absl::StatusOr<ConsumeSummary> RunConsume(const ConsumeOptions& options,
                                          const RunEnv& env);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_CONSUME_H_
