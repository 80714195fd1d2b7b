// For tests: a consume run on a thread of its own that the test waits on
// until the group is steady (ConsumeOptions::ready_file), then produces: the
// soak's order, so that no rebalance holds messages up once they are sent.
#ifndef MAYFLY_KAFKA_CLI_STEADY_CONSUMER_H_
#define MAYFLY_KAFKA_CLI_STEADY_CONSUMER_H_

#include <sstream>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kafka/cli/consume.h"
#include "kafka/cli/options.h"
#include "kafka/cli/run_env.h"

namespace mayfly::kafka::cli {

class SteadyConsumer {
 public:
  // Starts RunConsume(options, env) with its ready file under $TEST_TMPDIR
  // and its failure lines kept here (err()).
  SteadyConsumer(ConsumeOptions options, RunEnv env);
  ~SteadyConsumer();  // joins the run
  SteadyConsumer(const SteadyConsumer&) = delete;
  SteadyConsumer& operator=(const SteadyConsumer&) = delete;

  // Polls for the ready file for at most `patience` (real time).
  bool WaitUntilSteady(absl::Duration patience) const;
  // Waits for the run's end.
  absl::StatusOr<ConsumeSummary> Finish();
  // The run's failure lines; complete once Finish() has returned.
  std::string err() const { return err_.str(); }

 private:
  ConsumeOptions options_;
  RunEnv env_;
  std::ostringstream err_;
  absl::StatusOr<ConsumeSummary> summary_;
  std::thread thread_;
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_STEADY_CONSUMER_H_
