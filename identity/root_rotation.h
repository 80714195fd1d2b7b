// Rotating a trust domain's root with no outage, in its CA directory.
//
// Three steps, each a set of atomic file writes, each safe to repeat after a
// crash (the state is read back from which files exist):
//
//   Prepare  (`mayfly ca rotate`): a new root in next_root_key.pem and
//            next_root_cert.pem, added to bundle.pem. The old root still
//            signs; everyone learns to trust the new one.
//   Promote  (the agent, once every watcher has that bundle; or
//            mayfly-server in ca_dir mode, identity/server/server_rotation.cc):
//            the old root's certificate moves to retired_root_cert.pem with
//            the time after which nothing it signed is valid
//            (retired_drop_after), and the next root becomes
//            root_key.pem/root_cert.pem.
//   Drop     (the same driver, after that time): the retired root leaves
//            bundle.pem.
//
// Between Promote's two renames the key and certificate disagree for an
// instant; Inspect (which the driver runs first) finishes such a rename.
#ifndef MAYFLY_IDENTITY_ROOT_ROTATION_H_
#define MAYFLY_IDENTITY_ROOT_ROTATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/keys.h"
#include "identity/openssl_util.h"

namespace mayfly::identity {

inline constexpr absl::string_view kNextRootKeyFile = "next_root_key.pem";
inline constexpr absl::string_view kNextRootCertFile = "next_root_cert.pem";
inline constexpr absl::string_view kRetiredRootCertFile =
    "retired_root_cert.pem";
inline constexpr absl::string_view kRetiredDropAfterFile = "retired_drop_after";

struct RootRotationState {
  enum class Phase {
    kIdle,
    // A next root exists and is in the bundle; the old root signs.
    kPrepared,
    // The new root signs; the retired root stays in the bundle until
    // drop_after.
    kRetiring,
  };
  Phase phase = Phase::kIdle;
  absl::Time drop_after = absl::InfinitePast();
};

absl::string_view PhaseName(RootRotationState::Phase phase);

// Reads the phase, finishing whatever a crash interrupted.
absl::StatusOr<RootRotationState> InspectRootRotation(const std::string& dir);

// Step 1. FailedPrecondition if a rotation is already under way.
absl::Status PrepareRootRotation(const std::string& dir,
                                 absl::Duration root_ttl, const Clock& clock,
                                 KeyType key_type = kDefaultKeyType);

// The prepared next root's certificate (NotFound when none).
absl::StatusOr<UniqueX509> ReadNextRoot(const std::string& dir);

// Adds the prepared next root to bundle.pem if a crash kept Prepare from
// doing so. Returns whether the bundle changed.
absl::StatusOr<bool> EnsureNextRootInBundle(const std::string& dir);

// Step 2. `drop_after`: when the last certificate the old root signed
// expires.
absl::Status PromoteNextRoot(const std::string& dir, absl::Time drop_after);

// Step 3.
absl::Status DropRetiredRoot(const std::string& dir);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_ROOT_ROTATION_H_
