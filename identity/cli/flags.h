// Per-command flag parsing for the `mayfly` CLI.
//
// Each subcommand declares its own flags, so `mayfly svid mint --help` lists
// only what `svid mint` takes. Accepted forms: `--name=value`, `--name value`,
// `--bool`, `--no-bool`; `--` ends the flags. Unknown flags and missing values
// are usage errors that name the flag.
#ifndef MAYFLY_IDENTITY_CLI_FLAGS_H_
#define MAYFLY_IDENTITY_CLI_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::cli {

class FlagSet {
 public:
  // `usage` is the synopsis line, e.g. "mayfly svid verify --bundle FILE ...".
  FlagSet(std::string usage, std::string summary)
      : usage_(std::move(usage)), summary_(std::move(summary)) {}

  void String(std::string name, std::string* value, std::string help);
  // Repeatable; each occurrence may also hold a comma-separated list.
  void List(std::string name, std::vector<std::string>* values,
            std::string help);
  void Bool(std::string name, bool* value, std::string help);

  // Parses `args` (the words after the subcommand) and returns the positional
  // arguments. Sets help_requested() on --help / -h.
  absl::StatusOr<std::vector<std::string>> Parse(
      const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  std::string Help() const;

 private:
  enum class Kind { kString, kList, kBool };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
  };
  const Flag* Find(absl::string_view name) const;

  std::string usage_;
  std::string summary_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_FLAGS_H_
