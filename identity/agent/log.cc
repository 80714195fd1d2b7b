// JSON-lines logging: see log.h.
#include "identity/agent/log.h"

#include <atomic>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "identity/json_util.h"

namespace mayfly::agent {
namespace {

using ::mayfly::identity::JsonQuote;

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
absl::Mutex g_write_mu;

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "log level \"", name, "\" is not one of debug, info, warn, error"));
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

void Log(LogLevel level, absl::string_view event, LogFields fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line = absl::StrCat(
      "{\"ts\":",
      JsonQuote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                 absl::UTCTimeZone())),
      ",\"level\":\"", kLevelNames[static_cast<int>(level)],
      "\",\"event\":", JsonQuote(event));
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",", JsonQuote(key), ":", JsonQuote(value));
  }
  line += "}\n";
  absl::MutexLock lock(&g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

bool LogThrottle::Allow(int64_t& held_back) {
  const absl::Duration now = clock_.Monotonic();
  absl::MutexLock lock(&mu_);
  if (!bucket_.Take(now, per_second_, per_second_)) {
    ++held_back_;
    return false;
  }
  held_back = held_back_;
  held_back_ = 0;
  return true;
}

}  // namespace mayfly::agent
