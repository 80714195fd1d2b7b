// YAML with file:line errors and no silently ignored keys: see
// yaml_reader.h.
#include "identity/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/duration.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

std::string Line(absl::string_view source, const YAML::Mark& mark) {
  if (mark.is_null()) return std::string(source);
  return absl::StrCat(source, ":", mark.line + 1);
}

// Follows the parser's events and keeps the first key given twice in one
// mapping. Events, not the loaded tree: aliases arrive as one event each
// instead of being walked again wherever they are used, so this stays
// linear in the text however the document nests its anchors.
class DuplicateKeyFinder : public YAML::EventHandler {
 public:
  explicit DuplicateKeyFinder(absl::string_view source) : source_(source) {}

  const absl::Status& status() const { return status_; }
  const YAML::Mark& last_document() const { return last_document_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    last_document_ = mark;
  }
  void OnDocumentEnd() override {}
  // yaml-cpp reports `~`, `null` and an empty node as null; as a key they
  // are all the same key.
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Begin(mark, "null");
    End();
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = scalar_anchors_.find(anchor);
    Begin(mark, it == scalar_anchors_.end()
                    ? std::nullopt
                    : std::optional<std::string>(it->second));
    End();
  }
  void OnScalar(const YAML::Mark& mark, const std::string&,
                YAML::anchor_t anchor, const std::string& value) override {
    if (anchor != YAML::NullAnchor) scalar_anchors_[anchor] = value;
    Begin(mark, value);
    End();
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    stack_.push_back(Frame{/*is_map=*/false, Begin(mark, std::nullopt)});
  }
  void OnSequenceEnd() override {
    stack_.pop_back();
    End();
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    stack_.push_back(Frame{/*is_map=*/true, Begin(mark, std::nullopt)});
  }
  void OnMapEnd() override {
    stack_.pop_back();
    End();
  }

 private:
  // An open mapping or sequence.
  struct Frame {
    bool is_map;
    std::string path;
    // Mapping: whether the next node is a key, each key's line, and the
    // path of the value after the current key.
    bool at_key = true;
    std::map<std::string, int> keys;
    std::string value_path;
    // Sequence: the next item's index.
    size_t index = 0;
  };

  // A node starts: returns its path. `scalar` is its text when it is a
  // scalar (or an alias of one), which is what a key is compared by.
  std::string Begin(const YAML::Mark& mark,
                    const std::optional<std::string>& scalar) {
    if (stack_.empty()) return "";
    Frame& parent = stack_.back();
    if (!parent.is_map)
      return absl::StrCat(parent.path, "[", parent.index, "]");
    if (!parent.at_key) return parent.value_path;
    // A complex key (a mapping or list used as a key) is not compared.
    const std::string key = scalar.value_or("?");
    parent.value_path =
        parent.path.empty() ? key : absl::StrCat(parent.path, ".", key);
    if (!scalar.has_value()) return parent.value_path;
    auto [it, inserted] = parent.keys.emplace(key, mark.line + 1);
    if (!inserted && status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(Line(source_, mark), ": ", parent.value_path,
                       ": key given twice (first at line ", it->second, ")"));
    }
    return parent.value_path;
  }
  // A node ended: a key is followed by its value, a value by the next key.
  void End() {
    if (stack_.empty()) return;
    Frame& parent = stack_.back();
    if (parent.is_map) {
      parent.at_key = !parent.at_key;
    } else {
      ++parent.index;
    }
  }

  const std::string source_;
  std::vector<Frame> stack_;
  absl::flat_hash_map<YAML::anchor_t, std::string> scalar_anchors_;
  absl::Status status_;
  YAML::Mark last_document_ = YAML::Mark::null_mark();
};

}  // namespace

absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DuplicateKeyFinder finder(source);
    parser.HandleNextDocument(finder);
    RETURN_IF_ERROR(finder.status());
    if (parser.HandleNextDocument(finder)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Line(source, finder.last_document()),
          ": a second YAML document (after ---); a config is one document"));
    }
    return root;
  } catch (const YAML::Exception& e) {
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
