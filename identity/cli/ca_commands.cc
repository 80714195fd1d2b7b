// `mayfly ca init`: creates a trust domain's root CA on disk.
#include <iostream>

#include "absl/time/time.h"
#include "identity/ca.h"
#include "identity/cli/command.h"
#include "identity/duration.h"
#include "identity/keys.h"
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

}  // namespace

std::vector<Command> CaCommands() {
  return {{"ca init", "Create a trust domain root CA", CaInit}};
}

}  // namespace mayfly::cli
