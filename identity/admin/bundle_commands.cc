// `mayfly bundle prune`: the last step of a root rotation with admin-signed
// intermediates (docs/server-admin.md). The retired root leaves the store's
// bundle, so agents stop trusting it; replicas only ever add to that bundle.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "identity/admin/admin_client.h"
#include "identity/admin/command_util.h"
#include "identity/cli/command.h"
#include "identity/file_util.h"
#include "identity/pem.h"

namespace mayfly::admin {
namespace {

using cli::kExitOk;
using cli::kExitUsage;

int BundlePrune(const std::vector<std::string>& args) {
  const std::string command = "mayfly bundle prune";
  std::string keep;
  cli::FlagSet flags(
      "mayfly bundle prune --keep FILE",
      "Removes from the server's stored bundle every X.509 root that FILE "
      "(PEM) does\nnot hold, and prints the roots left. Refused when FILE "
      "lacks the root the\nreplica signs under. A replica still signing "
      "under a removed root puts it\nback within 30 s.");
  flags.String("keep", &keep, "PEM roots to keep, e.g. the CA's bundle.pem.");
  ServerFlags server_flags;
  server_flags.AddTo(flags);
  std::vector<std::string> positional;
  if (auto code = cli::ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) {
    return Report(command, "takes no arguments", kExitUsage);
  }
  if (keep.empty()) return Report(command, "--keep is required", kExitUsage);
  absl::StatusOr<std::string> pem = identity::ReadFile(keep);
  if (!pem.ok()) return Report(command, pem.status().message(), 1);
  absl::StatusOr<identity::CertChain> roots = identity::CertsFromPem(*pem);
  if (!roots.ok() || roots->empty()) {
    return Report(command, absl::StrCat(keep, ": no PEM certificate"), 1);
  }
  server::v1::PruneBundleRequest request;
  for (const identity::UniqueX509& root : *roots) {
    request.add_keep_roots(identity::CertToDer(*root));
  }
  std::unique_ptr<AdminClient> client;
  if (auto code = ConnectOrExit(command, server_flags, &client)) return *code;
  server::v1::PruneBundleResponse response;
  const grpc::Status status =
      client->stub().PruneBundle(client->Context().get(), request, &response);
  if (!status.ok()) return CallFailed(command, status);
  std::cout << "removed: " << response.removed_size()
            << "\nroots: " << response.roots_size() << "\n";
  return kExitOk;
}

std::vector<cli::Command> BundleCommands() {
  return {{"bundle prune",
           "Remove retired roots from the server's stored bundle.",
           BundlePrune}};
}

const cli::CommandGroupRegistrar kRegistrar("bundle", BundleCommands);

}  // namespace
}  // namespace mayfly::admin
