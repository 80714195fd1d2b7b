// `mayfly`: the command-line tool. Dispatches to the subcommand whose words
// match the start of the arguments.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "identity/cli/command.h"

namespace mayfly::cli {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group : {IdCommands, CaCommands, SvidCommands, WorkloadCommands}) {
    for (Command& c : group()) all.push_back(std::move(c));
  }
  return all;
}

void PrintUsage(std::ostream& out, const std::vector<Command>& commands) {
  out << "usage: mayfly COMMAND [flags] [args]\n\n"
         "Mayfly: short-lived SPIFFE identities for Kafka.\n\ncommands:\n";
  for (const Command& c : commands) {
    out << "  " << c.words
        << std::string(16 - std::min<size_t>(15, c.words.size()), ' ')
        << c.summary << "\n";
  }
  out << "\n`mayfly COMMAND --help` describes a command's flags.\n";
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::vector<Command> commands = AllCommands();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    PrintUsage(args.empty() ? std::cerr : std::cout, commands);
    return args.empty() ? kExitUsage : kExitOk;
  }
  for (const Command& c : commands) {
    const std::vector<std::string> words = absl::StrSplit(c.words, ' ');
    if (args.size() < words.size() ||
        !std::equal(words.begin(), words.end(), args.begin())) {
      continue;
    }
    return c.run(
        std::vector<std::string>(args.begin() + words.size(), args.end()));
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
