// `mayfly`: the command-line tool. Dispatches to the registered command
// (see command.h) whose words match the start of the arguments.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "identity/cli/command.h"

namespace mayfly::cli {
namespace {

// Width of the command column in `mayfly --help`.
constexpr size_t kWordsColumn = 16;

void PrintUsage(std::ostream& out, const std::vector<Command>& commands) {
  out << "usage: mayfly COMMAND [flags] [args]\n\n"
         "Mayfly: short-lived SPIFFE identities for Kafka.\n\ncommands:\n";
  for (const Command& c : commands) {
    out << "  " << c.words
        << std::string(kWordsColumn -
                           std::min<size_t>(kWordsColumn - 1, c.words.size()),
                       ' ')
        << c.summary << "\n";
  }
  out << "\n`mayfly COMMAND --help` describes a command's flags.\n";
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const CommandRegistry& registry = CommandRegistry::Global();
  if (!registry.Conflicts().empty()) {
    return Fail("command registered twice: " +
                absl::StrJoin(registry.Conflicts(), ", "));
  }
  const std::vector<Command> commands = registry.Commands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    PrintUsage(args.empty() ? std::cerr : std::cout, commands);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (const Command* command = registry.Find(args)) {
    const size_t words =
        std::count(command->words.begin(), command->words.end(), ' ') + 1;
    return command->run(
        std::vector<std::string>(args.begin() + words, args.end()));
  }
  std::cerr << "mayfly: unknown command \""
            << absl::StrJoin(args.begin(),
                             args.begin() + std::min<size_t>(2, args.size()),
                             " ")
            << "\"\n\n";
  PrintUsage(std::cerr, commands);
  return kExitUsage;
}

}  // namespace
}  // namespace mayfly::cli

int main(int argc, char** argv) { return mayfly::cli::Main(argc, argv); }
