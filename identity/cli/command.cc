// Shared plumbing for subcommands: the registry of command groups, flag
// parsing with help and usage errors.
#include "identity/cli/command.h"

#include <iostream>

#include "absl/strings/str_split.h"

namespace mayfly::cli {

CommandRegistry& CommandRegistry::Global() {
  static CommandRegistry* const registry = new CommandRegistry();
  return *registry;
}

void CommandRegistry::AddGroup(const std::string& group,
                               std::vector<Command> commands) {
  for (const Command& c : commands) {
    for (const Command& known : Commands()) {
      if (known.words == c.words) conflicts_.push_back(c.words);
    }
  }
  std::vector<Command>& into = groups_[group];
  for (Command& c : commands) into.push_back(std::move(c));
}

std::vector<Command> CommandRegistry::Commands() const {
  std::vector<Command> all;
  for (const auto& [group, commands] : groups_) {
    all.insert(all.end(), commands.begin(), commands.end());
  }
  return all;
}

const Command* CommandRegistry::Find(
    const std::vector<std::string>& args) const {
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const auto& [group, commands] : groups_) {
    for (const Command& c : commands) {
      const std::vector<std::string> words = absl::StrSplit(c.words, ' ');
      if (args.size() < words.size() || words.size() <= best_words ||
          !std::equal(words.begin(), words.end(), args.begin())) {
        continue;
      }
      best = &c;
      best_words = words.size();
    }
  }
  return best;
}

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
