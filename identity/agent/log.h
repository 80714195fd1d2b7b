// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-24T10:00:00.123Z","level":"info","event":"svid_renewed",
//    "spiffe_id":"spiffe://example.org/web"}
// so that journald, Loki or jq can filter by field. Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_LOG_H_
#define MAYFLY_IDENTITY_AGENT_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::agent {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogFields =
    std::initializer_list<std::pair<absl::string_view, std::string>>;

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

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_LOG_H_
