// Structured logging through sinks: see log.h.
#include "identity/log/log.h"

#include <atomic>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/json_util.h"

namespace mayfly {
namespace {

using ::mayfly::identity::JsonQuote;

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

class JsonStderrSink : public LogSink {
 public:
  explicit JsonStderrSink(const identity::Clock& clock) : clock_(clock) {}

  void Write(LogLevel level, absl::string_view event, LogFields fields) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    const std::string line = FormatJsonLine(clock_.Now(), level, event, fields);
    absl::MutexLock lock(&mu_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }

 private:
  const identity::Clock& clock_;
  absl::Mutex mu_;
};

// The process logger's sink: the one SetLogSink was given, else stderr.
std::atomic<LogSink*> g_sink{nullptr};

LogSink& StderrSink() {
  // Leaked on purpose: threads may log during static destruction.
  static LogSink* const sink =
      NewJsonStderrSink(identity::RealClock()).release();
  return *sink;
}

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "log level \"", name, "\" is not one of debug, info, warn, error"));
}

absl::string_view LogLevelName(LogLevel level) {
  return kLevelNames[static_cast<int>(level)];
}

std::string FormatJsonLine(absl::Time ts, LogLevel level,
                           absl::string_view event, LogFields fields) {
  std::string line = absl::StrCat(
      "{\"ts\":",
      JsonQuote(
          absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone())),
      ",\"level\":\"", LogLevelName(level), "\",\"event\":", JsonQuote(event));
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",", JsonQuote(key), ":", JsonQuote(value));
  }
  line += "}\n";
  return line;
}

std::unique_ptr<LogSink> NewJsonStderrSink(const identity::Clock& clock) {
  return std::make_unique<JsonStderrSink>(clock);
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

void SetLogSink(LogSink* sink) { g_sink.store(sink); }

void Log(LogLevel level, absl::string_view event, LogFields fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  LogSink* sink = g_sink.load();
  (sink != nullptr ? *sink : StderrSink()).Write(level, event, fields);
}

}  // namespace mayfly
