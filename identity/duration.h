// Durations as operators write them: "30s", "5m", "1h", "1h30m", "7d".
#ifndef MAYFLY_IDENTITY_DURATION_H_
#define MAYFLY_IDENTITY_DURATION_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mayfly::identity {

// Parses a positive, finite duration. Units: ms, s, m, h, and d (24 h, whole
// days only, alone: "7d"). Zero, negative, "inf" and a missing unit are
// errors that quote the input.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_DURATION_H_
