// YAML with file:line errors and no silently ignored keys: see
// yaml_reader.h.
#include "identity/yaml_reader.h"

#include <yaml-cpp/depthguard.h>

#include <cmath>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/duration.h"
#include "identity/status_macros.h"
#include "identity/yaml_strict.h"

namespace mayfly::identity {
namespace {

std::string Line(absl::string_view source, const YAML::Mark& mark) {
  if (mark.is_null()) return std::string(source);
  return absl::StrCat(source, ":", mark.line + 1);
}

}  // namespace

absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source) {
  RETURN_IF_ERROR(CheckYamlText(text, source));
  StrictYamlChecker checker(text, source);
  try {
    // The events first, so that nothing outside the subset is ever built.
    // All of them: a syntax error anywhere is reported as such, as
    // SnakeYAML does, rather than a subset error before it.
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    // Not past a second document, which is refused: on some text yaml-cpp
    // starts empty documents at one place forever (",a" after a comment).
    while (checker.documents() < 2 && parser.HandleNextDocument(checker)) {
    }
    RETURN_IF_ERROR(checker.status());
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own recursion guard (far deeper than ours), and an alias
    // of no anchor, which yaml-cpp throws on before the checker sees it.
    if (dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr ||
        e.msg == YAML::ErrorMsg::UNKNOWN_ANCHOR) {
      RETURN_IF_ERROR(checker.status());
    }
    if (e.msg == YAML::ErrorMsg::UNKNOWN_ANCHOR) {
      return absl::InvalidArgumentError(absl::StrCat(
          Line(source, e.mark), ": an alias (*) is not allowed in a config"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(Line(source, e.mark), ": not valid YAML: ", e.msg));
  }
}

std::string YamlReader::At(const YAML::Node& node) const {
  return Line(source_, node.Mark());
}

absl::Status YamlReader::Error(const YAML::Node& node, absl::string_view field,
                               absl::string_view message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(At(node), ": ", field, ": ", message));
}

absl::StatusOr<std::string> YamlReader::String(const YAML::Node& node,
                                               absl::string_view field) const {
  if (!node.IsScalar()) return Error(node, field, "want a string");
  return node.Scalar();
}

absl::StatusOr<absl::Duration> YamlReader::Duration(
    const YAML::Node& node, absl::string_view field) const {
  ASSIGN_OR_RETURN(std::string text, String(node, field));
  absl::StatusOr<absl::Duration> d = ParseDuration(text);
  if (!d.ok()) return Error(node, field, d.status().message());
  return *d;
}

absl::StatusOr<int64_t> YamlReader::Integer(const YAML::Node& node,
                                            absl::string_view field,
                                            int64_t min, int64_t max) const {
  ASSIGN_OR_RETURN(std::string text, String(node, field));
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
    return Error(node, field,
                 absl::StrCat("\"", text, "\": want a whole number from ", min,
                              " to ", max));
  }
  return v;
}

absl::StatusOr<double> YamlReader::PositiveNumber(
    const YAML::Node& node, absl::string_view field) const {
  ASSIGN_OR_RETURN(std::string text, String(node, field));
  double v = 0;
  // SimpleAtod accepts "nan" and "inf"; neither is a usable setting.
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v) || v <= 0) {
    return Error(node, field,
                 absl::StrCat("\"", text, "\": want a number above 0"));
  }
  return v;
}

absl::StatusOr<std::vector<std::pair<YAML::Node, std::string>>>
YamlReader::Strings(const YAML::Node& node, absl::string_view field) const {
  if (!node.IsSequence()) return Error(node, field, "want a list");
  std::vector<std::pair<YAML::Node, std::string>> out;
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(std::string s,
                     String(node[i], absl::StrCat(field, "[", i, "]")));
    out.emplace_back(node[i], std::move(s));
  }
  return out;
}

absl::Status YamlReader::CheckKeys(const YAML::Node& map,
                                   absl::string_view field,
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

}  // namespace mayfly::identity
