// Flag parsing for the `mayfly` subcommands.
#include "identity/cli/flags.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mayfly::cli {

void FlagSet::String(std::string name, std::string* value, std::string help) {
  flags_.push_back(
      {std::move(name), Kind::kString, value, std::move(help), *value});
}

void FlagSet::List(std::string name, std::vector<std::string>* values,
                   std::string help) {
  flags_.push_back({std::move(name), Kind::kList, values, std::move(help), ""});
}

void FlagSet::Bool(std::string name, bool* value, std::string help) {
  flags_.push_back({std::move(name), Kind::kBool, value, std::move(help),
                    *value ? "true" : "false"});
}

const FlagSet::Flag* FlagSet::Find(absl::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(
    const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      positional.push_back(arg);
      continue;
    }
    absl::string_view body = absl::string_view(arg).substr(2);
    absl::string_view name = body;
    std::optional<std::string> value;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
    }
    const Flag* flag = Find(name);
    if (flag == nullptr && absl::StartsWith(name, "no-")) {
      const Flag* negated = Find(name.substr(3));
      if (negated != nullptr && negated->kind == Kind::kBool && !value) {
        *static_cast<bool*>(negated->target) = false;
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (flag->kind == Kind::kBool) {
      if (!value) {
        *static_cast<bool*>(flag->target) = true;
      } else if (*value == "true" || *value == "false") {
        *static_cast<bool*>(flag->target) = *value == "true";
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "flag --", name, " takes true or false, not \"", *value, "\""));
      }
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (flag->kind == Kind::kString) {
      *static_cast<std::string*>(flag->target) = *value;
    } else {
      auto* list = static_cast<std::vector<std::string>*>(flag->target);
      for (absl::string_view item :
           absl::StrSplit(*value, ',', absl::SkipEmpty())) {
        list->emplace_back(item);
      }
    }
  }
  return positional;
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\n", summary_, "\n");
  if (flags_.empty()) return out;
  absl::StrAppend(&out, "\nflags:\n");
  for (const Flag& flag : flags_) {
    absl::StrAppend(&out, "  --", flag.name, "\n      ", flag.help);
    if (!flag.default_text.empty()) {
      absl::StrAppend(&out, " (default: ", flag.default_text, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help\n      Show this help.\n");
  return out;
}

}  // namespace mayfly::cli
