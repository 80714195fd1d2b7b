// The `mayfly` commands, where command groups register themselves, and the
// conventions every command follows.
//
// A command group (`ca`, `svid`, later `bridge`, `kafka`) is one translation
// unit that defines its commands and registers them with a namespace-scope
// CommandGroupRegistrar; its cc_library is `alwayslink = 1` so the linker
// keeps the registrar even though nothing calls into the file. Adding a
// group is adding its library to the `mayfly` binary's deps: no central list
// to edit. `mayfly --help` lists every registered command, groups in name
// order.
//
// Exit codes: 0 success; 1 the command ran and the answer is "no" (an invalid
// ID, a failed verification) or an operation failed; 2 a usage error. Results
// go to stdout, errors to stderr.
#ifndef MAYFLY_IDENTITY_CLI_COMMAND_H_
#define MAYFLY_IDENTITY_CLI_COMMAND_H_

#include <map>
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

// The registered command groups. Registration happens during static
// initialisation, before main, on one thread; afterwards it is only read.
// Not thread-safe for concurrent registration.
class CommandRegistry {
 public:
  // The registry `mayfly` dispatches from. Never destroyed.
  static CommandRegistry& Global();

  // Adds `commands` as group `group`. A word sequence registered twice is
  // remembered and reported by Conflicts().
  void AddGroup(const std::string& group, std::vector<Command> commands);

  // Every command, groups in name order, each group in its own order.
  std::vector<Command> Commands() const;

  // The command whose words start `args`; the longest such match.
  const Command* Find(const std::vector<std::string>& args) const;

  // "words" of every command registered more than once.
  const std::vector<std::string>& Conflicts() const { return conflicts_; }

 private:
  std::map<std::string, std::vector<Command>> groups_;
  std::vector<std::string> conflicts_;
};

// Registers a group with the global registry when constructed; define one at
// namespace scope in the group's file.
class CommandGroupRegistrar {
 public:
  CommandGroupRegistrar(const char* group, std::vector<Command> (*commands)()) {
    CommandRegistry::Global().AddGroup(group, commands());
  }
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

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_COMMAND_H_
