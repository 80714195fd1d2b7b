// Following a root rotation until it is done: what `mayfly ca rotate --wait`
// does, with time injected so a test can step the wall clock under it.
#ifndef MAYFLY_IDENTITY_CLI_ROTATION_FOLLOW_H_
#define MAYFLY_IDENTITY_CLI_ROTATION_FOLLOW_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/root_rotation.h"

namespace mayfly::cli {

// Looks at the rotation in `dir` every `poll` until it is idle (true) or
// `wait` has passed on `clock`'s monotonic reading (false), so a wall-clock
// step neither ends the wait early nor stretches it. Calls `on_phase` with
// each new phase, and `sleep(poll)` between looks.
absl::StatusOr<bool> FollowRootRotation(
    const std::string& dir, absl::Duration wait, absl::Duration poll,
    const identity::Clock& clock, absl::FunctionRef<void(absl::Duration)> sleep,
    absl::FunctionRef<void(const identity::RootRotationState&)> on_phase);

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_ROTATION_FOLLOW_H_
