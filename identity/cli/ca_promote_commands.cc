// `mayfly ca promote` and `mayfly ca drop`: the admin machine's half of a
// root rotation when the root stays off the servers (mayfly-server with
// admin-signed intermediates, docs/server-admin.md). With the root on the
// agent's or the server's own disk, that process runs these steps itself;
// here the admin runs them once every replica signs under the next root.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "identity/ca.h"
#include "identity/cli/command.h"
#include "identity/duration.h"
#include "identity/root_rotation.h"

namespace mayfly::cli {
namespace {

using Phase = identity::RootRotationState::Phase;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

int CaPromote(const std::vector<std::string>& args) {
  std::string dir, drop_after;
  FlagSet flags(
      "mayfly ca promote --dir DIR --drop-after DURATION",
      "Makes the prepared next root the root of DIR (later `ca sign` uses "
      "it) and\nretires the old one, which stays in bundle.pem until "
      "DURATION from now: set it\nto when the last certificate the old root "
      "signed expires (the replicas' old\nintermediates cap everything they "
      "signed). Run it once every replica signs\nunder the next root.");
  flags.String("dir", &dir, "The CA directory.");
  flags.String("drop-after", &drop_after,
               "How long the retired root stays in the bundle.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  if (drop_after.empty()) return MissingFlag(flags, "drop-after");
  if (!positional.empty()) {
    return Fail("ca promote takes no arguments", kExitUsage);
  }
  // 0s: at once, when every certificate the old root signed is known to
  // have been renewed under the new one.
  absl::StatusOr<absl::Duration> wait =
      drop_after == "0s" ? absl::ZeroDuration()
                         : identity::ParseDuration(drop_after);
  if (!wait.ok()) {
    return Fail(absl::StrCat("--drop-after: ", wait.status().message()),
                kExitUsage);
  }
  absl::StatusOr<identity::RootRotationState> state =
      identity::InspectRootRotation(dir);
  if (!state.ok()) return Fail(std::string(state.status().message()));
  if (state->phase != Phase::kPrepared) {
    return Fail(absl::StrCat(dir, ": root rotation is ",
                             identity::PhaseName(state->phase),
                             ", not prepared: nothing to promote"));
  }
  const absl::Time at = identity::RealClock().Now() + *wait;
  if (absl::Status s = identity::PromoteNextRoot(dir, at); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::cout << "root rotation: retiring (old root leaves the bundle at "
            << Rfc3339(at) << ")\n";
  return kExitOk;
}

int CaDrop(const std::vector<std::string>& args) {
  std::string dir;
  FlagSet flags("mayfly ca drop --dir DIR",
                "Removes the retired root from DIR's bundle.pem, once its "
                "drop-after time has\npassed. Then hand the replicas the new "
                "bundle and run `mayfly bundle prune`.");
  flags.String("dir", &dir, "The CA directory.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  if (!positional.empty())
    return Fail("ca drop takes no arguments", kExitUsage);
  absl::StatusOr<identity::RootRotationState> state =
      identity::InspectRootRotation(dir);
  if (!state.ok()) return Fail(std::string(state.status().message()));
  if (state->phase != Phase::kRetiring) {
    return Fail(absl::StrCat(dir, ": root rotation is ",
                             identity::PhaseName(state->phase),
                             ", not retiring: no retired root to drop"));
  }
  if (identity::RealClock().Now() < state->drop_after) {
    return Fail(absl::StrCat(
        dir,
        ": the retired root may still have signed live certificates; "
        "it can be dropped at ",
        Rfc3339(state->drop_after)));
  }
  if (absl::Status s = identity::DropRetiredRoot(dir); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::cout << "root rotation: idle (retired root removed from "
            << identity::CaPath(dir, identity::kBundleFile) << ")\n";
  return kExitOk;
}

std::vector<Command> CaPromoteCommands() {
  return {{"ca promote", "Make the prepared root the signing root", CaPromote},
          {"ca drop", "Remove the retired root from the bundle", CaDrop}};
}

const CommandGroupRegistrar kRegistrar("ca", CaPromoteCommands);

}  // namespace
}  // namespace mayfly::cli
