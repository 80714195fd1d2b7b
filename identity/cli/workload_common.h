// What the Workload API commands share (workload_commands.cc, the one-shot
// commands; watch_commands.cc, `mayfly watch x509`): the --socket help text
// and picking and writing one SVID of an X.509 context. Internal to this
// package: its BUILD target is private.
#ifndef MAYFLY_IDENTITY_CLI_WORKLOAD_COMMON_H_
#define MAYFLY_IDENTITY_CLI_WORKLOAD_COMMON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "identity/workload/client.h"

namespace mayfly::cli {

// Help of every command's --socket flag.
inline constexpr char kSocketHelp[] =
    "Workload API socket (unix:///path or /path); default "
    "$SPIFFE_ENDPOINT_SOCKET.";

// The SVID `spiffe_id` names in `context`, or the default (the first) when
// it is empty. NotFound lists the IDs on offer. The pointer is into
// `context`.
absl::StatusOr<const identity::workload::X509SvidEntry*> PickSvid(
    const identity::workload::X509Context& context,
    const std::string& spiffe_id);

// Writes one SVID (see PickSvid) and its trust domain's bundle into `dir`
// (identity::WriteSvidFiles). InvalidArgument when the context has no
// bundle for the SVID's trust domain.
absl::Status WriteSvid(const std::string& dir,
                       const identity::workload::X509Context& context,
                       const std::string& spiffe_id);

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_WORKLOAD_COMMON_H_
