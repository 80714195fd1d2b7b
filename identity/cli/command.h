// The `mayfly` subcommand table and the conventions every command follows.
//
// Exit codes: 0 success; 1 the command ran and the answer is "no" (an invalid
// ID, a failed verification) or an operation failed; 2 a usage error. Results
// go to stdout, errors to stderr.
#ifndef MAYFLY_IDENTITY_CLI_COMMAND_H_
#define MAYFLY_IDENTITY_CLI_COMMAND_H_

#include <optional>
#include <string>
#include <vector>

#include "identity/cli/flags.h"

namespace mayfly::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  // The words that select it, e.g. "svid mint".
  std::string words;
  std::string summary;
  int (*run)(const std::vector<std::string>& args);
};

// Parses `args` into `flags`. Returns an exit code when the command should
// stop now (help printed, or a usage error reported); otherwise nothing, with
// the positional arguments in `positional`.
std::optional<int> ParseOrExit(FlagSet& flags,
                               const std::vector<std::string>& args,
                               std::vector<std::string>* positional);

// Reports a usage error for a missing required flag and returns kExitUsage.
int MissingFlag(const FlagSet& flags, const std::string& name);

// Prints "mayfly: <message>" to stderr and returns `code`.
int Fail(const std::string& message, int code = kExitFailure);

std::vector<Command> IdCommands();
std::vector<Command> CaCommands();
std::vector<Command> SvidCommands();
std::vector<Command> WorkloadCommands();

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_COMMAND_H_
