// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-24T10:00:00.123Z","level":"info","event":"svid_renewed",
//    "spiffe_id":"spiffe://example.org/web"}
// so that journald, Loki or jq can filter by field. Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_LOG_H_
#define MAYFLY_IDENTITY_AGENT_LOG_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "identity/agent/token_bucket.h"
#include "identity/clock.h"

namespace mayfly::agent {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Key-value pairs: a braced list, or a vector built up beforehand.
using LogFields = absl::Span<const std::pair<absl::string_view, std::string>>;

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
void SetLogLevel(LogLevel level);
void Log(LogLevel level, absl::string_view event, LogFields fields);

inline void LogDebug(absl::string_view event, LogFields fields = {}) {
  Log(LogLevel::kDebug, event, fields);
}
inline void LogInfo(absl::string_view event, LogFields fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(absl::string_view event, LogFields fields = {}) {
  Log(LogLevel::kWarn, event, fields);
}
inline void LogError(absl::string_view event, LogFields fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// Lets at most `per_second` lines a second through (in bursts of as many),
// so that a caller retrying in a loop cannot flood the log. Runs on the
// clock's monotonic reading, so a wall-clock step neither mutes nor floods
// it.
class LogThrottle {
 public:
  LogThrottle(int per_second, const identity::Clock& clock)
      : per_second_(per_second), clock_(clock) {}
  // True if a line may be written now; then `held_back` is how many lines
  // were refused since the last one let through.
  bool Allow(int64_t& held_back) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int per_second_;
  const identity::Clock& clock_;
  absl::Mutex mu_;
  TokenBucket bucket_ ABSL_GUARDED_BY(mu_);
  int64_t held_back_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_LOG_H_
