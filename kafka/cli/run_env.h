// What a produce or consume run reads and writes besides Kafka: its clock,
// its streams and its stop flag. Tests hand in string streams.
#ifndef MAYFLY_KAFKA_CLI_RUN_ENV_H_
#define MAYFLY_KAFKA_CLI_RUN_ENV_H_

#include <atomic>
#include <iostream>

#include "identity/clock.h"

namespace mayfly::kafka::cli {

struct RunEnv {
  // Monotonic() times latencies, rates and timeouts; Now() checks SVIDs.
  const identity::Clock* clock = &identity::RealClock();
  std::istream* in = &std::cin;    // produce --stdin
  std::ostream* out = &std::cout;  // consume --print
  std::ostream* err = &std::cerr;  // per-failure lines
  // Set (e.g. by a SIGINT handler) to end the run early, as a duration
  // would: it flushes or leaves the group and reports. Null: never.
  const std::atomic<bool>* stop = nullptr;
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_RUN_ENV_H_
