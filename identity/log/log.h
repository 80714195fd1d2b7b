// Structured logs, written through a sink.
//
// An event name and key-value fields, e.g.
//   LogInfo("svid_renewed", {{"spiffe_id", "spiffe://example.org/web"}});
// The daemon and the CLI write them as one JSON object per line on stderr
//   {"ts":"2026-11-24T10:00:00.123Z","level":"info","event":"svid_renewed",
//    "spiffe_id":"spiffe://example.org/web"}
// so that journald, Loki or jq can filter by field. A library that runs
// inside someone else's process (the Kafka client library) must not write to
// that process's stderr: it logs through a Logger over the LogSink the
// application hands it, for example one that forwards to librdkafka's log
// callback.
//
// Thread-safe: sinks are called from any thread and must be thread-safe
// themselves.
#ifndef MAYFLY_IDENTITY_LOG_LOG_H_
#define MAYFLY_IDENTITY_LOG_LOG_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "identity/clock.h"

// Logging is shared by every component (identity, bridge, kafka), so it lives
// in the project's top namespace and callers anywhere under mayfly:: use the
// functions unqualified.
namespace mayfly {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Key-value pairs: a braced list, or a vector built up beforehand.
using LogFields = absl::Span<const std::pair<absl::string_view, std::string>>;

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// Where log events go.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogLevel level, absl::string_view event,
                     LogFields fields) = 0;
};

// One JSON object per line on stderr, stamped with `clock`'s wall time.
// Lines from different threads never interleave.
std::unique_ptr<LogSink> NewJsonStderrSink(const identity::Clock& clock);

// The JSON line for one event, newline included (what NewJsonStderrSink
// writes); exposed for sinks that send the same text elsewhere.
std::string FormatJsonLine(absl::Time ts, LogLevel level,
                           absl::string_view event, LogFields fields);

// A sink and a minimum level. Does not own the sink, which must outlive it.
class Logger {
 public:
  explicit Logger(LogSink& sink, LogLevel min_level = LogLevel::kInfo)
      : sink_(sink), min_level_(static_cast<int>(min_level)) {}

  void Log(LogLevel level, absl::string_view event, LogFields fields = {}) {
    if (static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed)) {
      sink_.Write(level, event, fields);
    }
  }
  void SetLevel(LogLevel level) {
    min_level_.store(static_cast<int>(level), std::memory_order_relaxed);
  }

 private:
  LogSink& sink_;
  std::atomic<int> min_level_;
};

// The process's own logger, for daemons and command-line tools (never for
// library code in someone else's process): JSON lines on stderr from the
// real clock at level info until told otherwise.
void SetLogLevel(LogLevel level);
// Sends the process logger's lines to `sink` (not owned; it must outlive
// every later log call), or back to stderr when `sink` is null.
void SetLogSink(LogSink* sink);
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

}  // namespace mayfly

#endif  // MAYFLY_IDENTITY_LOG_LOG_H_
