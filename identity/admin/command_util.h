// What the admin commands (entry, token, agent) share: connecting with the
// common flags and reporting errors as "mayfly entry create: WHAT", with
// exit code 2 for a usage error and 1 for a refusal or a failure
// (identity/cli/command.h).
#ifndef MAYFLY_IDENTITY_ADMIN_COMMAND_UTIL_H_
#define MAYFLY_IDENTITY_ADMIN_COMMAND_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "identity/admin/admin_client.h"

namespace mayfly::admin {

// Prints "<command>: <message>" to stderr and returns `code`.
int Report(const std::string& command, absl::string_view message, int code);

// A client for `flags`, or the exit code after saying why not (2 when the
// flags are wrong, 1 when a file cannot be read).
std::optional<int> ConnectOrExit(const std::string& command,
                                 const ServerFlags& flags,
                                 std::unique_ptr<AdminClient>* client);

// "<command>: CODE: <server message>" on stderr; returns 1.
int CallFailed(const std::string& command, const grpc::Status& status);

// InvalidArgument naming `flag` unless `text` is a SPIFFE ID.
absl::Status CheckSpiffeIdFlag(const std::string& flag,
                               const std::string& text);

// InvalidArgument unless `id` is an entry id: 32 lowercase hex digits.
absl::Status CheckEntryId(const std::string& id);

}  // namespace mayfly::admin

#endif  // MAYFLY_IDENTITY_ADMIN_COMMAND_UTIL_H_
