// `mayfly svid mint` and `mayfly svid verify`: offline X.509-SVID tools for
// bootstrap, scripts and tests.
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "identity/ca.h"
#include "identity/cli/command.h"
#include "identity/duration.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/svid_files.h"
#include "identity/x509_svid.h"
#include "identity/x509_verify.h"

namespace mayfly::cli {
namespace {

// The intermediate that `svid mint` makes outlives the leaf by this much, so
// the leaf's lifetime is never cut short by its issuer.
constexpr absl::Duration kMintIntermediateSlack = absl::Minutes(1);

std::string SerialHex(X509& cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(&cert);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
      static_cast<size_t>(ASN1_STRING_length(serial))));
}

int SvidMint(const std::vector<std::string>& args) {
  std::string ca_dir;
  std::string id_text;
  std::string ttl_text = absl::FormatDuration(identity::kDefaultX509SvidTtl);
  std::string out_dir;
  std::string key_type = "p256";
  std::vector<std::string> dns_names;
  FlagSet flags(
      "mayfly svid mint --ca-dir DIR --id ID --out DIR [--ttl 60s]",
      "Mints an X.509-SVID from the CA in --ca-dir, through a fresh "
      "short-lived\nintermediate, and writes svid.pem (leaf, intermediate), "
      "svid_key.pem (0600)\nand svid_bundle.pem into --out.");
  flags.String("ca-dir", &ca_dir, "CA directory made by `mayfly ca init`.");
  flags.String("id", &id_text, "SPIFFE ID of the SVID.");
  flags.String("ttl", &ttl_text, "Lifetime, e.g. 30s, 5m, 1h.");
  flags.String("out", &out_dir, "Directory for the PEM files.");
  flags.String("key-type", &key_type, "Leaf key type: p256, ed25519, rsa2048.");
  flags.List("dns", &dns_names, "DNS SAN (repeatable or comma-separated).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (ca_dir.empty()) return MissingFlag(flags, "ca-dir");
  if (id_text.empty()) return MissingFlag(flags, "id");
  if (out_dir.empty()) return MissingFlag(flags, "out");

  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(id_text);
  if (!id.ok()) return Fail(std::string(id.status().message()), kExitUsage);
  absl::StatusOr<absl::Duration> ttl = identity::ParseDuration(ttl_text);
  if (!ttl.ok()) {
    return Fail("--ttl: " + std::string(ttl.status().message()), kExitUsage);
  }
  absl::StatusOr<identity::KeyType> type =
      identity::KeyTypeFromString(key_type);
  if (!type.ok()) return Fail(std::string(type.status().message()), kExitUsage);

  const identity::Clock& clock = identity::RealClock();
  auto ca = identity::CertificateAuthority::Load(ca_dir, clock);
  if (!ca.ok()) return Fail(std::string(ca.status().message()));
  if (!id->MemberOf((*ca)->trust_domain())) {
    return Fail(absl::StrCat(id->ToString(), " is not in trust domain ",
                             (*ca)->trust_domain().name(), " of ", ca_dir));
  }
  absl::StatusOr<identity::Signer> intermediate =
      (*ca)->IssueIntermediate(*ttl + kMintIntermediateSlack);
  if (!intermediate.ok())
    return Fail(std::string(intermediate.status().message()));
  identity::X509SvidRequest request{*id, *ttl, dns_names, {}, *type};
  absl::StatusOr<identity::X509Svid> svid =
      identity::MintX509Svid(request, *intermediate, clock);
  if (!svid.ok()) return Fail(std::string(svid.status().message()));
  absl::Status written = identity::WriteSvidFiles(
      out_dir, svid->chain, *svid->key, (*ca)->bundle().roots());
  if (!written.ok()) return Fail(std::string(written.message()));

  std::cout << "minted " << id->ToString() << "\n  serial  "
            << SerialHex(*svid->chain[0]) << "\n  expires "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", svid->not_after,
                                absl::UTCTimeZone())
            << "\n  wrote   " << out_dir << "/{" << identity::kSvidFile << ","
            << identity::kSvidKeyFile << "," << identity::kSvidBundleFile
            << "}\n";
  return kExitOk;
}

// The trust domain a bundle speaks for: the first root whose URI SAN is a
// trust domain ID (Mayfly and SPIRE roots carry one).
std::optional<identity::TrustDomain> BundleTrustDomain(
    const identity::CertChain& roots) {
  for (const identity::UniqueX509& root : roots) {
    for (const std::string& uri : identity::UriSans(*root)) {
      absl::StatusOr<identity::TrustDomain> td =
          identity::TrustDomain::FromString(uri);
      if (td.ok()) return *td;
    }
  }
  return std::nullopt;
}

std::string Describe(X509& cert) {
  char* subject = X509_NAME_oneline(X509_get_subject_name(&cert), nullptr, 0);
  std::string out = subject == nullptr ? "?" : subject;
  OPENSSL_free(subject);
  return out;
}

int SvidVerify(const std::vector<std::string>& args) {
  std::string bundle_path;
  std::string svid_path;
  std::string trust_domain;
  FlagSet flags(
      "mayfly svid verify --bundle FILE --svid FILE [--trust-domain TD]",
      "Verifies an X.509-SVID (PEM chain, leaf first) against a trust bundle "
      "at the\n"
      "current time. Prints the SPIFFE ID and expiry; exit 1 with the "
      "broken rule\notherwise.");
  flags.String("bundle", &bundle_path, "PEM file with the trusted roots.");
  flags.String("svid", &svid_path, "PEM file with the SVID chain.");
  flags.String("trust-domain", &trust_domain,
               "Trust domain of the bundle; by default read from its roots' "
               "URI SAN, else the SVID's.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (bundle_path.empty()) return MissingFlag(flags, "bundle");
  if (svid_path.empty()) return MissingFlag(flags, "svid");

  auto in = [](const std::string& path, const absl::Status& status) {
    return Fail(absl::StrCat(path, ": ", status.message()));
  };
  absl::StatusOr<std::string> svid_pem = identity::ReadFile(svid_path);
  if (!svid_pem.ok()) return Fail(std::string(svid_pem.status().message()));
  absl::StatusOr<identity::CertChain> chain = identity::CertsFromPem(*svid_pem);
  if (!chain.ok()) return in(svid_path, chain.status());
  absl::StatusOr<std::string> bundle_pem = identity::ReadFile(bundle_path);
  if (!bundle_pem.ok()) return Fail(std::string(bundle_pem.status().message()));
  absl::StatusOr<identity::CertChain> roots =
      identity::CertsFromPem(*bundle_pem);
  if (!roots.ok()) return in(bundle_path, roots.status());

  std::optional<identity::TrustDomain> td;
  if (!trust_domain.empty()) {
    absl::StatusOr<identity::TrustDomain> parsed =
        identity::TrustDomain::FromString(trust_domain);
    if (!parsed.ok()) {
      return Fail(std::string(parsed.status().message()), kExitUsage);
    }
    td = *parsed;
  } else {
    td = BundleTrustDomain(*roots);
  }
  if (!td.has_value()) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeIdFromCert(*(*chain)[0]);
    if (!id.ok()) return in(svid_path, id.status());
    td = id->trust_domain();
  }
  absl::StatusOr<identity::X509Bundle> bundle =
      identity::X509Bundle::FromPem(*td, *bundle_pem);
  if (!bundle.ok()) return in(bundle_path, bundle.status());

  const absl::Time now = identity::RealClock().Now();
  absl::StatusOr<identity::VerifiedSvid> verified =
      identity::VerifyX509Svid(*chain, *bundle, now);
  if (!verified.ok()) {
    return Fail(
        absl::StrCat("verification failed: ", verified.status().message()));
  }
  std::cout << "verified " << verified->id.ToString() << "\n  expires "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", verified->expiry,
                                absl::UTCTimeZone())
            << " (in "
            << absl::FormatDuration(
                   absl::Trunc(verified->expiry - now, absl::Seconds(1)))
            << ")\n  chain:\n";
  for (const identity::UniqueX509& cert : verified->chain) {
    std::cout << "    " << Describe(*cert) << "\n";
  }
  return kExitOk;
}

std::vector<Command> SvidCommands() {
  return {
      {"svid mint", "Mint an X.509-SVID from a CA directory", SvidMint},
      {"svid verify", "Verify an X.509-SVID against a bundle", SvidVerify},
  };
}

const CommandGroupRegistrar kRegistrar("svid", SvidCommands);

}  // namespace
}  // namespace mayfly::cli
