// yaml-cpp's exceptions turned into Status: see yaml_reader.h.
#include "identity/agent/internal/yaml_reader.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mayfly::agent::internal {

absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
}

}  // namespace mayfly::agent::internal
