// Picking and writing one SVID of an X.509 context, for the Workload API
// commands (workload_common.h).
#include "identity/cli/workload_common.h"

#include "absl/strings/str_cat.h"
#include "identity/svid_files.h"

namespace mayfly::cli {

using identity::workload::X509Context;

absl::StatusOr<const identity::workload::X509SvidEntry*> PickSvid(
    const X509Context& context, const std::string& spiffe_id) {
  if (spiffe_id.empty()) return &context.svids.front();
  std::string offered;
  for (const auto& svid : context.svids) {
    if (svid.id.ToString() == spiffe_id) return &svid;
    absl::StrAppend(&offered, offered.empty() ? "" : ", ", svid.id.ToString());
  }
  return absl::NotFoundError(absl::StrCat("no SVID for ", spiffe_id,
                                          " in the agent's answer; it offers ",
                                          offered));
}

absl::Status WriteSvid(const std::string& dir, const X509Context& context,
                       const std::string& spiffe_id) {
  absl::StatusOr<const identity::workload::X509SvidEntry*> picked =
      PickSvid(context, spiffe_id);
  if (!picked.ok()) return picked.status();
  const identity::workload::X509SvidEntry& svid = **picked;
  const auto bundle = context.bundles.find(svid.id.trust_domain());
  if (bundle == context.bundles.end()) {
    return absl::InvalidArgumentError("no bundle for " +
                                      svid.id.trust_domain().name());
  }
  return identity::WriteSvidFiles(dir, svid.chain, *svid.key,
                                  bundle->second.roots());
}

}  // namespace mayfly::cli
