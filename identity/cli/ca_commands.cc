// `mayfly ca init`: creates a trust domain's root CA on disk.
// `mayfly ca rotate`: starts a root rotation that the agent completes.
// `mayfly ca status`: where a rotation stands.
#include <unistd.h>

#include <iostream>

#include "absl/time/time.h"
#include "identity/ca.h"
#include "identity/cli/command.h"
#include "identity/cli/rotation_follow.h"
#include "identity/duration.h"
#include "identity/keys.h"
#include "identity/root_rotation.h"
#include "identity/spiffe_id.h"

namespace mayfly::cli {
namespace {

int CaInit(const std::vector<std::string>& args) {
  std::string dir;
  std::string trust_domain;
  std::string key_type = "p256";
  std::string ttl = "365d";
  FlagSet flags("mayfly ca init --dir DIR --trust-domain TD",
                "Creates a self-signed root CA for a trust domain in DIR "
                "(mode 0700; key 0600).");
  flags.String("dir", &dir, "Directory for the CA's state.");
  flags.String("trust-domain", &trust_domain,
               "Trust domain name, e.g. example.org.");
  flags.String("key-type", &key_type, "Root key type: p256, ed25519, rsa2048.");
  flags.String("ttl", &ttl, "Root certificate lifetime.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  if (trust_domain.empty()) return MissingFlag(flags, "trust-domain");
  if (!positional.empty()) {
    return Fail("ca init takes no arguments", kExitUsage);
  }

  absl::StatusOr<identity::TrustDomain> td =
      identity::TrustDomain::FromString(trust_domain);
  if (!td.ok()) return Fail(std::string(td.status().message()), kExitUsage);
  absl::StatusOr<identity::KeyType> type =
      identity::KeyTypeFromString(key_type);
  if (!type.ok()) return Fail(std::string(type.status().message()), kExitUsage);
  absl::StatusOr<absl::Duration> root_ttl = identity::ParseDuration(ttl);
  if (!root_ttl.ok()) {
    return Fail("--ttl: " + std::string(root_ttl.status().message()),
                kExitUsage);
  }

  absl::StatusOr<std::unique_ptr<identity::CertificateAuthority>> ca =
      identity::CertificateAuthority::Create(dir, {*td, *type, *root_ttl},
                                             identity::RealClock());
  if (!ca.ok()) return Fail(std::string(ca.status().message()));
  std::cout << "created CA for " << (*ca)->trust_domain().IdString() << " in "
            << dir << "\n  root expires "
            << absl::FormatTime((*ca)->root().NotAfter()) << "\n";
  return kExitOk;
}

void PrintState(const identity::RootRotationState& state) {
  std::cout << "root rotation: " << identity::PhaseName(state.phase);
  if (state.phase == identity::RootRotationState::Phase::kRetiring) {
    std::cout << " (old root leaves the bundle at "
              << absl::FormatTime(absl::RFC3339_sec, state.drop_after,
                                  absl::UTCTimeZone())
              << ")";
  }
  std::cout << std::endl;
}

// How often `ca rotate --wait` looks at the rotation's state: its steps take
// seconds to hours, so twice a second is prompt and cheap.
constexpr absl::Duration kRotationPoll = absl::Milliseconds(500);

int CaRotate(const std::vector<std::string>& args) {
  // --wait is empty by default: return once the next root is added.
  std::string dir, key_type = "p256", ttl = "365d", wait;
  FlagSet flags(
      "mayfly ca rotate --dir DIR [--wait DURATION]",
      "Starts a root rotation: mints the next root and adds it to the "
      "bundle. The\nagent serving from DIR (its state_dir/ca) then waits "
      "until every watcher has\nthe new bundle, switches issuing to the new "
      "root, and drops the old root\nonce everything it signed has expired. "
      "--wait follows it until done.");
  flags.String(
      "dir", &dir,
      "The CA directory (the agent's or mayfly-server's state_dir/ca).");
  flags.String("key-type", &key_type, "Root key type: p256, ed25519, rsa2048.");
  flags.String("ttl", &ttl, "New root certificate lifetime.");
  flags.String("wait", &wait,
               "Follow the rotation for up to this long, e.g. 2h (default: "
               "do not wait).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  if (!positional.empty()) {
    return Fail("ca rotate takes no arguments", kExitUsage);
  }
  absl::StatusOr<identity::KeyType> type =
      identity::KeyTypeFromString(key_type);
  if (!type.ok()) return Fail(std::string(type.status().message()), kExitUsage);
  absl::StatusOr<absl::Duration> root_ttl = identity::ParseDuration(ttl);
  if (!root_ttl.ok()) {
    return Fail("--ttl: " + std::string(root_ttl.status().message()),
                kExitUsage);
  }
  absl::StatusOr<absl::Duration> wait_for = absl::ZeroDuration();
  if (!wait.empty()) wait_for = identity::ParseDuration(wait);
  if (!wait_for.ok()) {
    return Fail("--wait: " + std::string(wait_for.status().message()),
                kExitUsage);
  }
  const identity::Clock& clock = identity::RealClock();
  absl::Status s = identity::PrepareRootRotation(dir, *root_ttl, clock, *type);
  if (!s.ok()) return Fail(std::string(s.message()));
  std::cout << "next root added to " << dir << "/bundle.pem" << std::endl;
  if (*wait_for == absl::ZeroDuration()) return kExitOk;
  absl::StatusOr<bool> done = FollowRootRotation(
      dir, *wait_for, kRotationPoll, clock,
      [](absl::Duration poll) { absl::SleepFor(poll); }, PrintState);
  if (!done.ok()) return Fail(std::string(done.status().message()));
  if (!*done) {
    return Fail(
        "the rotation did not finish within --wait; is the agent "
        "running on this CA directory?");
  }
  return kExitOk;
}

int CaStatus(const std::vector<std::string>& args) {
  std::string dir;
  FlagSet flags("mayfly ca status --dir DIR",
                "Prints the trust domain and where a root rotation stands.");
  flags.String("dir", &dir, "The CA directory.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  absl::StatusOr<identity::RootRotationState> state =
      identity::InspectRootRotation(dir);
  if (!state.ok()) return Fail(std::string(state.status().message()));
  auto ca = identity::CertificateAuthority::Load(dir, identity::RealClock());
  if (!ca.ok()) return Fail(std::string(ca.status().message()));
  std::cout << "trust domain " << (*ca)->trust_domain().name() << ", "
            << (*ca)->bundle().roots().size() << " root(s) in the bundle\n";
  PrintState(*state);
  return kExitOk;
}

std::vector<Command> CaCommands() {
  return {{"ca init", "Create a trust domain root CA", CaInit},
          {"ca rotate", "Start a no-outage root rotation", CaRotate},
          {"ca status", "Show the CA and any root rotation", CaStatus}};
}

const CommandGroupRegistrar kRegistrar("ca", CaCommands);

}  // namespace
}  // namespace mayfly::cli
