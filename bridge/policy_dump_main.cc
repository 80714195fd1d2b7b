// policy_dump FILE...: each file's canonical dump (policy_dump.h), headed
// "== FILE" with FILE's base name, which is also the source in errors. For
// tests/yaml_differential.sh; exit 2 if a file cannot be read.
#include <iostream>
#include <string>

#include "absl/strings/string_view.h"
#include "bridge/policy_dump.h"
#include "identity/file_util.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
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
              << mayfly::bridge::DumpPolicy(*text, name);
  }
  return 0;
}
