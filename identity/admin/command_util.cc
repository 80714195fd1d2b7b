// Shared by the admin commands. See command_util.h.
#include "identity/admin/command_util.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "identity/cli/command.h"
#include "identity/spiffe_id.h"

namespace mayfly::admin {

namespace {

// server.proto: "32 lowercase hex digits".
constexpr size_t kEntryIdLength = 32;

}  // namespace

int Report(const std::string& command, absl::string_view message, int code) {
  std::cerr << command << ": " << message << "\n";
  return code;
}

std::optional<int> ConnectOrExit(const std::string& command,
                                 const ServerFlags& flags,
                                 std::unique_ptr<AdminClient>* client) {
  absl::StatusOr<std::unique_ptr<AdminClient>> connected =
      AdminClient::Connect(flags);
  if (!connected.ok()) {
    return Report(
        command, connected.status().message(),
        connected.status().code() == absl::StatusCode::kInvalidArgument
            ? cli::kExitUsage
            : cli::kExitFailure);
  }
  *client = *std::move(connected);
  return std::nullopt;
}

int CallFailed(const std::string& command, const grpc::Status& status) {
  return Report(command, StatusText(status), cli::kExitFailure);
}

absl::Status CheckSpiffeIdFlag(const std::string& flag,
                               const std::string& text) {
  absl::Status s = identity::SpiffeId::FromString(text).status();
  if (s.ok()) return s;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": ", s.message()));
}

absl::Status CheckEntryId(const std::string& id) {
  bool ok = id.size() == kEntryIdLength;
  for (char c : id)
    ok = ok && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("\"", id, "\" is not an entry id (", kEntryIdLength,
                   " lowercase hex digits)"));
}

}  // namespace mayfly::admin
