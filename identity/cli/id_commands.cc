// `mayfly id check`: validates SPIFFE IDs against every rule of the spec.
#include <iostream>

#include "identity/cli/command.h"
#include "identity/spiffe_id.h"

namespace mayfly::cli {
namespace {

int IdCheck(const std::vector<std::string>& args) {
  FlagSet flags("mayfly id check ID...",
                "Checks each SPIFFE ID. Valid IDs are printed in canonical "
                "form on stdout;\nfor each invalid one, the rule it breaks is "
                "printed on stderr and the exit\ncode is 1.");
  std::vector<std::string> ids;
  if (auto code = ParseOrExit(flags, args, &ids)) return *code;
  if (ids.empty()) return Fail("id check needs at least one ID", kExitUsage);
  int exit_code = kExitOk;
  for (const std::string& text : ids) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(text);
    if (id.ok()) {
      std::cout << id->ToString() << "\n";
    } else {
      std::cerr << "invalid: " << id.status().message() << "\n";
      exit_code = kExitFailure;
    }
  }
  return exit_code;
}

std::vector<Command> IdCommands() {
  return {{"id check", "Validate SPIFFE IDs", IdCheck}};
}

const CommandGroupRegistrar kRegistrar("id", IdCommands);

}  // namespace
}  // namespace mayfly::cli
