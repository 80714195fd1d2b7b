// The `ca rotate --wait` loop.
#include "identity/cli/rotation_follow.h"

#include "identity/status_macros.h"

namespace mayfly::cli {

absl::StatusOr<bool> FollowRootRotation(
    const std::string& dir, absl::Duration wait, absl::Duration poll,
    const identity::Clock& clock, absl::FunctionRef<void(absl::Duration)> sleep,
    absl::FunctionRef<void(const identity::RootRotationState&)> on_phase) {
  using Phase = identity::RootRotationState::Phase;
  Phase last = Phase::kIdle;
  const absl::Duration deadline = clock.Monotonic() + wait;
  while (clock.Monotonic() < deadline) {
    ASSIGN_OR_RETURN(identity::RootRotationState state,
                     identity::InspectRootRotation(dir));
    if (state.phase != last) on_phase(state);
    if (state.phase == Phase::kIdle) return true;
    last = state.phase;
    sleep(poll);
  }
  return false;
}

}  // namespace mayfly::cli
