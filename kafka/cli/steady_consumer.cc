// A consume run a test waits on: see steady_consumer.h.
#include "kafka/cli/steady_consumer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mayfly::kafka::cli {

SteadyConsumer::SteadyConsumer(ConsumeOptions options, RunEnv env)
    : options_(std::move(options)), env_(env) {
  options_.ready_file = absl::StrCat(getenv("TEST_TMPDIR"), "/ready");
  env_.err = &err_;
  // RunConsume removes it too, but only once its thread runs: an earlier
  // test's must be gone before WaitUntilSteady looks.
  std::remove(options_.ready_file.c_str());
  thread_ = std::thread([this] { summary_ = RunConsume(options_, env_); });
}

SteadyConsumer::~SteadyConsumer() {
  if (thread_.joinable()) thread_.join();
}

bool SteadyConsumer::WaitUntilSteady(absl::Duration patience) const {
  const absl::Time deadline = absl::Now() + patience;
  while (absl::Now() < deadline) {
    if (std::ifstream(options_.ready_file).good()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

absl::StatusOr<ConsumeSummary> SteadyConsumer::Finish() {
  thread_.join();
  return summary_;
}

}  // namespace mayfly::kafka::cli
