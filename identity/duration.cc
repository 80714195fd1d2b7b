// Duration parsing: a thin layer over absl::ParseDuration that adds days and
// refuses the values that make no sense for a TTL or an interval.
#include "identity/duration.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mayfly::identity {

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", text, "\": ", why,
                     " (write it like 30s, 5m, 1h or 7d)"));
  };
  if (text.empty()) return error("empty");
  absl::Duration d;
  if (text.back() == 'd') {
    int64_t days = 0;
    if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &days)) {
      return error("days must be a whole number");
    }
    d = absl::Hours(24) * days;
  } else if (absl::ascii_isdigit(text.back())) {
    return error("missing unit");
  } else if (!absl::ParseDuration(text, &d)) {
    return error("not a number followed by ms, s, m, h or d");
  }
  if (d == absl::InfiniteDuration()) return error("must be finite");
  if (d <= absl::ZeroDuration()) return error("must be positive");
  return d;
}

}  // namespace mayfly::identity
