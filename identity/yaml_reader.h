// Reading YAML config files with errors that point at the node:
// "SOURCE:LINE: FIELD: message", FIELD being the dotted path of what is
// wrong (e.g. "limits.max_connections", "entries[2].selectors[0]").
//
// yaml-cpp throws and accepts things a config must not: a key given twice in
// one mapping (yaml-cpp keeps both and `node[key]` silently returns the
// first) and a second document after `---` (YAML::Load ignores it).
// LoadYaml catches yaml-cpp's exceptions at this boundary and refuses both,
// so callers only see absl::Status. Used by the agent, bridge and kafka
// configs; nothing here knows their field names.
#ifndef MAYFLY_IDENTITY_YAML_READER_H_
#define MAYFLY_IDENTITY_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mayfly::identity {

// Parses one YAML document in the strict subset of yaml_strict.h (the one
// the Java broker plugin reads identically). InvalidArgument "SOURCE:LINE:
// ..." for anything outside it, a syntax error, a key given twice in any
// mapping at any depth ("SOURCE:LINE: PATH: key given twice (first at line
// N)", LINE being the second one), or a second document.
absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source);

// Typed reads of nodes from one source, each error InvalidArgument
// "SOURCE:LINE: FIELD: message". Holds only the source name: cheap to copy,
// thread-compatible.
class YamlReader {
 public:
  explicit YamlReader(absl::string_view source) : source_(source) {}

  const std::string& source() const { return source_; }
  // "SOURCE:LINE" of `node` (1-based line).
  std::string At(const YAML::Node& node) const;
  absl::Status Error(const YAML::Node& node, absl::string_view field,
                     absl::string_view message) const;

  // A scalar, as written.
  absl::StatusOr<std::string> String(const YAML::Node& node,
                                     absl::string_view field) const;
  // A duration as identity/duration.h reads it ("30s", "5m", "7d").
  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node,
                                          absl::string_view field) const;
  // A whole number in [min, max].
  absl::StatusOr<int64_t> Integer(const YAML::Node& node,
                                  absl::string_view field, int64_t min,
                                  int64_t max) const;
  // A finite number above 0 (a rate, a factor).
  absl::StatusOr<double> PositiveNumber(const YAML::Node& node,
                                        absl::string_view field) const;
  // A list of scalars, each with its node so later checks can point at it.
  absl::StatusOr<std::vector<std::pair<YAML::Node, std::string>>> Strings(
      const YAML::Node& node, absl::string_view field) const;
  // `map` must be a mapping whose keys are all in `known`; an unknown key
  // (a typo that would otherwise silently become a default) is an error
  // naming it and listing the known ones.
  absl::Status CheckKeys(const YAML::Node& map, absl::string_view field,
                         const std::set<std::string>& known) const;

 private:
  std::string source_;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_YAML_READER_H_
