// Summary lines and their bookkeeping: see summary.h.
#include "kafka/cli/summary.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace mayfly::kafka::cli {
namespace {

constexpr double kBytesPerMb = 1e6;

// `count` a second over `elapsed`; zero for an empty interval.
double PerSecond(double count, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? count / seconds : 0;
}

}  // namespace

std::string FormatProduceSummary(const ProduceSummary& s) {
  return absl::StrFormat(
      "produce: sent=%d delivered=%d failed=%d seconds=%.3f msgs_per_s=%.1f "
      "mb_per_s=%.3f p50_ms=%.3f p99_ms=%.3f rotations=%d auth_errors=%d "
      "transport_errors=%d",
      s.sent, s.delivered, s.failed, absl::ToDoubleSeconds(s.elapsed),
      PerSecond(s.delivered, s.elapsed),
      PerSecond(s.bytes_delivered / kBytesPerMb, s.elapsed),
      absl::ToDoubleMilliseconds(s.p50), absl::ToDoubleMilliseconds(s.p99),
      s.rotations, s.auth_errors, s.transport_errors);
}

std::string ProduceProblems(const ProduceSummary& s) {
  return s.failed == 0 ? "" : absl::StrCat("failed=", s.failed);
}

std::string FormatConsumeSummary(const ConsumeSummary& s) {
  return absl::StrFormat(
      "consume: received=%d distinct=%d duplicated=%d lost=%d rebalances=%d "
      "seconds=%.3f msgs_per_s=%.1f rotations=%d auth_errors=%d "
      "transport_errors=%d",
      s.received, s.distinct, s.duplicated, s.lost, s.rebalances,
      absl::ToDoubleSeconds(s.elapsed), PerSecond(s.received, s.elapsed),
      s.rotations, s.auth_errors, s.transport_errors);
}

std::string ConsumeProblems(const ConsumeSummary& s) {
  std::vector<std::string> problems;
  const std::pair<const char*, int64_t> checked[] = {
      {"duplicated", s.duplicated},
      {"lost", s.lost},
      {"rebalances", s.rebalances},
      {"auth_errors", s.auth_errors}};
  for (const auto& [name, value] : checked) {
    if (value != 0) problems.push_back(absl::StrCat(name, "=", value));
  }
  return absl::StrJoin(problems, " ");
}

std::optional<ReadPlace> SequenceTracker::Record(std::optional<int64_t> seq,
                                                 ReadPlace at) {
  absl::MutexLock lock(&mu_);
  ++received_;
  if (!seq) {
    ++unnumbered_;
    return std::nullopt;
  }
  const auto [it, first] = seen_.try_emplace(*seq, at);
  if (first) return std::nullopt;
  return it->second;
}

int64_t SequenceTracker::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

int64_t SequenceTracker::distinct() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(seen_.size()) + unnumbered_;
}

int64_t SequenceTracker::Lost(int64_t expect) const {
  absl::MutexLock lock(&mu_);
  int64_t in_range = 0;
  for (const auto& [seq, unused_place] : seen_) {
    if (seq >= 0 && seq < expect) ++in_range;
  }
  return expect - in_range;
}

std::optional<int64_t> SequenceOfKey(const void* key, size_t size) {
  if (key == nullptr || size == 0) return std::nullopt;
  const absl::string_view text(static_cast<const char*>(key), size);
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  int64_t seq = 0;
  if (!absl::SimpleAtoi(text, &seq)) return std::nullopt;
  return seq;
}

}  // namespace mayfly::kafka::cli
