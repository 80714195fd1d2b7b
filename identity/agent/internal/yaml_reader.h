// Reading YAML with errors that point at the node: "SOURCE:LINE: FIELD:
// message". yaml-cpp throws; everything here catches at the boundary and
// returns absl::Status. Internal to the agent's config parsing.
#ifndef MAYFLY_IDENTITY_AGENT_INTERNAL_YAML_READER_H_
#define MAYFLY_IDENTITY_AGENT_INTERNAL_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/agent/config.h"
#include "identity/duration.h"
#include "identity/status_macros.h"

namespace mayfly::agent::internal {

// Errors point at a node: "SOURCE:LINE: FIELD: message".
class Reader {
 public:
  explicit Reader(absl::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, absl::string_view field,
                     absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(At(node), ": ", field, ": ", message));
  }
  std::string At(const YAML::Node& node) const {
    return absl::StrCat(source_, ":", node.Mark().line + 1);
  }

  absl::StatusOr<std::string> String(const YAML::Node& node,
                                     absl::string_view field) const {
    if (!node.IsScalar()) return Error(node, field, "want a string");
    return node.Scalar();
  }
  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node,
                                          absl::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    absl::StatusOr<absl::Duration> d = identity::ParseDuration(text);
    if (!d.ok()) return Error(node, field, d.status().message());
    return *d;
  }
  absl::StatusOr<int64_t> Integer(const YAML::Node& node,
                                  absl::string_view field, int64_t min,
                                  int64_t max) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
      return Error(node, field,
                   absl::StrCat("\"", text, "\": want a whole number from ",
                                min, " to ", max));
    }
    return v;
  }
  absl::StatusOr<double> Rate(const YAML::Node& node,
                              absl::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    double v = 0;
    if (!absl::SimpleAtod(text, &v) || !(v > 0)) {
      return Error(node, field, "want a number above 0");
    }
    return v;
  }
  absl::StatusOr<std::vector<std::pair<YAML::Node, std::string>>> Strings(
      const YAML::Node& node, absl::string_view field) const {
    if (!node.IsSequence()) return Error(node, field, "want a list");
    std::vector<std::pair<YAML::Node, std::string>> out;
    for (size_t i = 0; i < node.size(); ++i) {
      ASSIGN_OR_RETURN(std::string s,
                       String(node[i], absl::StrCat(field, "[", i, "]")));
      out.emplace_back(node[i], std::move(s));
    }
    return out;
  }
  // The map's keys, each checked against `known`.
  absl::Status CheckKeys(const YAML::Node& map, absl::string_view field,
                         const std::set<std::string>& known) const {
    if (!map.IsMap()) return Error(map, field, "want a map of keys");
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (known.count(key) == 0) {
        return Error(
            it->first, field.empty() ? key : absl::StrCat(field, ".", key),
            absl::StrCat("unknown key (known: ", absl::StrJoin(known, ", "),
                         ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string source_;
};

absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source);

// The `entries:` list, each entry validated; duplicates are errors.
absl::StatusOr<std::vector<EntryConfig>> ParseEntryList(const Reader& r,
                                                        const YAML::Node& node);

}  // namespace mayfly::agent::internal

#endif  // MAYFLY_IDENTITY_AGENT_INTERNAL_YAML_READER_H_
