// Log events through sinks: the JSON line format, levels, and a library
// logger that writes only to the sink it was given.
#include "identity/log/log.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"

namespace mayfly {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Keeps what it is given, as an application's sink would forward it.
class CapturingSink : public LogSink {
 public:
  void Write(LogLevel level, absl::string_view event,
             LogFields fields) override {
    std::string text(event);
    for (const auto& [k, v] : fields) absl::StrAppend(&text, " ", k, "=", v);
    lines.emplace_back(level, text);
  }
  std::vector<std::tuple<LogLevel, std::string>> lines;
};

TEST(LogTest, JsonLineIsExactAndEscaped) {
  const absl::Time ts = absl::FromUnixMillis(1'795'000'000'123);
  EXPECT_EQ(FormatJsonLine(ts, LogLevel::kWarn, "svid_renewed",
                           {{"spiffe_id", "spiffe://example.org/web"},
                            {"note", "a \"quoted\"\nline"}}),
            "{\"ts\":\"2026-11-18T11:06:40.123Z\",\"level\":\"warn\","
            "\"event\":\"svid_renewed\","
            "\"spiffe_id\":\"spiffe://example.org/web\","
            "\"note\":\"a \\\"quoted\\\"\\nline\"}\n");
}

TEST(LogTest, StderrSinkStampsLinesWithItsClock) {
  identity::FakeClock clock(absl::FromUnixSeconds(1'795'000'000));
  std::unique_ptr<LogSink> sink = NewJsonStderrSink(clock);
  testing::internal::CaptureStderr();
  sink->Write(LogLevel::kInfo, "started", {});
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "{\"ts\":\"2026-11-18T11:06:40.000Z\",\"level\":\"info\","
            "\"event\":\"started\"}\n");
}

TEST(LogTest, LoggerWritesOnlyToItsSinkAtOrAboveItsLevel) {
  CapturingSink sink;
  Logger logger(sink, LogLevel::kWarn);
  testing::internal::CaptureStderr();
  logger.Log(LogLevel::kInfo, "dropped", {{"k", "v"}});
  logger.Log(LogLevel::kError, "kept", {{"k", "v"}});
  logger.SetLevel(LogLevel::kDebug);
  logger.Log(LogLevel::kDebug, "now_kept");
  EXPECT_THAT(testing::internal::GetCapturedStderr(), IsEmpty());
  EXPECT_THAT(sink.lines,
              ElementsAre(std::make_tuple(LogLevel::kError, "kept k=v"),
                          std::make_tuple(LogLevel::kDebug, "now_kept")));
}

TEST(LogTest, ProcessLoggerGoesToTheSinkItWasGiven) {
  CapturingSink sink;
  SetLogSink(&sink);
  SetLogLevel(LogLevel::kWarn);
  LogInfo("dropped");
  LogWarn("kept", {{"k", "v"}});
  SetLogLevel(LogLevel::kInfo);
  SetLogSink(nullptr);
  testing::internal::CaptureStderr();
  LogInfo("back_on_stderr");
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("\"event\":\"back_on_stderr\""));
  EXPECT_THAT(sink.lines,
              ElementsAre(std::make_tuple(LogLevel::kWarn, "kept k=v")));
}

TEST(LogTest, ParsesLevelNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_THAT(ParseLogLevel("verbose"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"verbose\" is not one of debug, info")));
}

}  // namespace
}  // namespace mayfly
