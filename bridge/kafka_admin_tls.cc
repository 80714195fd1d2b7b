// The admin connection's SVID, its files and the broker check: see
// kafka_admin_tls.h.
#include "bridge/kafka_admin_tls.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/svid_files.h"
#include "identity/workload/client.h"
#include "identity/x509_verify.h"

namespace mayfly::bridge {
namespace {

constexpr absl::string_view kChainFile = "chain.pem";
constexpr absl::string_view kKeyFile = "key.pem";
constexpr absl::string_view kBundleFile = "bundle.pem";

}  // namespace

absl::StatusOr<AdminSvid> LoadSvidFromDir(const std::string& dir) {
  ASSIGN_OR_RETURN(identity::SvidFiles files, identity::ReadSvidFiles(dir));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeIdFromCert(*files.chain.front()));
  return AdminSvid{std::move(id), std::move(files.chain), std::move(files.key),
                   std::move(files.bundle)};
}

absl::StatusOr<AdminSvid> FetchSvidFromWorkloadApi(absl::string_view socket,
                                                   absl::Duration timeout) {
  ASSIGN_OR_RETURN(auto client,
                   identity::workload::WorkloadClient::Create(socket));
  ASSIGN_OR_RETURN(identity::workload::X509Context context,
                   client->FetchX509Context(timeout));
  // ParseX509Response guarantees at least one SVID.
  identity::workload::X509SvidEntry& svid = context.svids.front();
  const auto bundle = context.bundles.find(svid.id.trust_domain());
  if (bundle == context.bundles.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the Workload API sent no bundle for ", svid.id.trust_domain().name(),
        ", the trust domain of ", svid.id.ToString()));
  }
  return AdminSvid{svid.id, std::move(svid.chain), std::move(svid.key),
                   identity::ShareChain(bundle->second.roots())};
}

absl::Status CheckBrokerLeaf(absl::string_view leaf_der,
                             const BrokerIdRule& rule) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(leaf_der.data());
  identity::UniqueX509 leaf(
      d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(
        "the broker's certificate does not parse: " +
        identity::DrainOpenSslErrors());
  }
  absl::StatusOr<identity::SpiffeId> id = identity::SpiffeIdFromCert(*leaf);
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the broker's certificate is no X.509-SVID: ", id.status().message()));
  }
  bool wanted = false;
  std::vector<std::string> patterns;
  for (const identity::SpiffeIdPattern& pattern : rule.brokers) {
    wanted = wanted || pattern.Matches(*id);
    patterns.push_back(pattern.ToString());
  }
  if (!wanted) {
    return absl::PermissionDeniedError(
        patterns.empty()
            ? absl::StrCat("the broker is ", id->ToString(),
                           ", but no broker IDs are given (", rule.source, ")")
            : absl::StrCat("the broker is ", id->ToString(), ", not ",
                           patterns.size() == 1 ? "" : "one of ",
                           absl::StrJoin(patterns, ", "), " (", rule.source,
                           ")"));
  }
  if (!id->MemberOf(rule.bundle_trust_domain)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the broker is ", id->ToString(), ", but its chain was checked with ",
        "the bundle of ", rule.bundle_trust_domain.name(),
        " only; an ID of another trust domain needs that domain's bundle"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PrivateTlsFiles> PrivateTlsFiles::Write(const AdminSvid& svid) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                   "/mayfly-kafka-admin.XXXXXX");
  // mkdtemp makes the directory 0700.
  if (mkdtemp(pattern.data()) == nullptr) {
    return identity::ErrnoError("mkdtemp", pattern);
  }
  PrivateTlsFiles files(pattern);
  ASSIGN_OR_RETURN(std::string key_pem,
                   identity::PrivateKeyToPkcs8Pem(*svid.key));
  RETURN_IF_ERROR(identity::WriteFileAtomically(files.key_path(), key_pem,
                                                identity::kPrivateFileMode));
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      files.chain_path(), identity::CertsToPem(svid.chain),
      identity::kPublicFileMode));
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      files.bundle_path(), identity::CertsToPem(svid.bundle),
      identity::kPublicFileMode));
  return files;
}

PrivateTlsFiles::PrivateTlsFiles(PrivateTlsFiles&& other) noexcept
    : dir_(std::exchange(other.dir_, std::string())) {}

PrivateTlsFiles::~PrivateTlsFiles() {
  if (dir_.empty()) return;
  // Best effort: a file that was never written is simply absent.
  for (const std::string& path : {chain_path(), key_path(), bundle_path()}) {
    ::unlink(path.c_str());
  }
  ::rmdir(dir_.c_str());
}

std::string PrivateTlsFiles::chain_path() const {
  return absl::StrCat(dir_, "/", kChainFile);
}
std::string PrivateTlsFiles::key_path() const {
  return absl::StrCat(dir_, "/", kKeyFile);
}
std::string PrivateTlsFiles::bundle_path() const {
  return absl::StrCat(dir_, "/", kBundleFile);
}

}  // namespace mayfly::bridge
