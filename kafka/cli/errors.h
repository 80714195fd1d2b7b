// What a produce or consume run counts of librdkafka's errors, and the
// capped per-failure lines it prints.
#ifndef MAYFLY_KAFKA_CLI_ERRORS_H_
#define MAYFLY_KAFKA_CLI_ERRORS_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mayfly::kafka::cli {

// An authentication, authorization or TLS failure: the client or the broker
// refused the other's identity, or the broker refused an operation to it.
bool IsAuthError(rd_kafka_resp_err_t err);
// The connection to a broker failed or every broker is down.
bool IsTransportError(rd_kafka_resp_err_t err);

// The error counts of a run's summary line, from delivery reports, consumed
// error events and error_cb. Thread-safe.
struct ErrorCounts {
  std::atomic<int64_t> auth{0};
  std::atomic<int64_t> transport{0};

  // Counts `err` if it is either kind.
  void Count(rd_kafka_resp_err_t err) {
    if (IsAuthError(err)) auth.fetch_add(1);
    if (IsTransportError(err)) transport.fetch_add(1);
  }
};

// Writes the first `limit` lines it is given to `out` as "<prefix>: line";
// Finish() then says how many more there were. Thread-safe.
class FailureLog {
 public:
  FailureLog(std::ostream& out, std::string prefix, int64_t limit)
      : out_(out), prefix_(std::move(prefix)), limit_(limit) {}

  void Add(const std::string& line) ABSL_LOCKS_EXCLUDED(mu_);
  // "<prefix>: N more failures not shown" when some were held back.
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);
  int64_t total() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::ostream& out_;
  const std::string prefix_;
  const int64_t limit_;
  mutable absl::Mutex mu_;
  int64_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

// Per-failure lines a run prints before it only counts them.
inline constexpr int64_t kFailureLinesShown = 10;

// "NAME: description" of `err`.
std::string ErrorText(rd_kafka_resp_err_t err);

// What every run's error_cb does: counts `err` and logs it with `reason`
// (librdkafka's own words, naming the broker).
void ReportClientError(int err, const char* reason, ErrorCounts& counts,
                       FailureLog& log);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_ERRORS_H_
