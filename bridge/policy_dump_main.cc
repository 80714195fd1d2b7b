// policy_dump [--ids FILE] POLICY...: each policy's canonical dump
// (policy_dump.h), headed "== POLICY" with its base name, which is also the
// source in errors; with --ids, also what each line of FILE (an ID to map)
// maps to. For tests/yaml_differential.sh; exit 2 if a file cannot be
// read.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bridge/policy_dump.h"
#include "identity/file_util.h"

int main(int argc, char** argv) {
  std::vector<std::string> ids;
  int first = 1;
  if (argc > 2 && absl::string_view(argv[1]) == "--ids") {
    absl::StatusOr<std::string> text = mayfly::identity::ReadFile(argv[2]);
    if (!text.ok()) {
      std::cerr << text.status().message() << "\n";
      return 2;
    }
    ids = absl::StrSplit(*text, '\n', absl::SkipEmpty());
    first = 3;
  }
  for (int i = first; i < argc; ++i) {
    const std::string path = argv[i];
    const size_t slash = path.rfind('/');
    const std::string name =
        slash == std::string::npos ? path : path.substr(slash + 1);
    absl::StatusOr<std::string> text = mayfly::identity::ReadFile(path);
    if (!text.ok()) {
      std::cerr << text.status().message() << "\n";
      return 2;
    }
    std::cout << "== " << name << "\n"
              << mayfly::bridge::DumpPolicy(*text, name, ids);
  }
  return 0;
}
