// Shared plumbing for subcommands: flag parsing with help and usage errors.
#include "identity/cli/command.h"

#include <iostream>

namespace mayfly::cli {

std::optional<int> ParseOrExit(FlagSet& flags,
                               const std::vector<std::string>& args,
                               std::vector<std::string>* positional) {
  absl::StatusOr<std::vector<std::string>> parsed = flags.Parse(args);
  if (!parsed.ok()) {
    std::cerr << "mayfly: " << parsed.status().message() << "\n\n"
              << flags.Help();
    return kExitUsage;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  *positional = std::move(*parsed);
  return std::nullopt;
}

int MissingFlag(const FlagSet& flags, const std::string& name) {
  std::cerr << "mayfly: missing required flag --" << name << "\n\n"
            << flags.Help();
  return kExitUsage;
}

int Fail(const std::string& message, int code) {
  std::cerr << "mayfly: " << message << "\n";
  return code;
}

}  // namespace mayfly::cli
