// The strict YAML subset: see yaml_strict.h. Every message here has a twin,
// word for word, in the broker plugin's YamlStrict.java.
#include "identity/yaml_strict.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "identity/yaml_text.h"

namespace mayfly::identity {
namespace {

using yaml_text_internal::Decoded;
using yaml_text_internal::DecodeUtf8;
using yaml_text_internal::Printable;

std::string At(absl::string_view source, int line) {
  return absl::StrCat(source, ":", line);
}

}  // namespace

void StrictYamlChecker::Fail(const YAML::Mark& mark,
                             absl::string_view message) {
  FailAt(mark.line + 1, message);
}

void StrictYamlChecker::FailAt(int line, absl::string_view message) {
  if (!status_.ok()) return;
  status_ = absl::InvalidArgumentError(
      absl::StrCat(At(source_, line), ": ", message));
}

std::string StrictYamlChecker::Path() const {
  std::string path;
  for (const Frame& frame : stack_) {
    if (!frame.is_map) {
      absl::StrAppend(&path, "[", frame.index, "]");
    } else {
      absl::StrAppend(&path, path.empty() ? "" : ".", frame.key);
    }
  }
  return path;
}

bool StrictYamlChecker::ExplicitNull(const YAML::Mark& mark, bool key) const {
  if (mark.pos < 0) return false;
  const absl::string_view rest = text_.substr(mark.pos);
  for (absl::string_view word : {"~", "null", "Null", "NULL"}) {
    if (!absl::StartsWith(rest, word)) continue;
    // The whole plain scalar: for a value, "null: x" is the next key and
    // "null - id" a longer scalar, so the null at this mark was empty.
    size_t i = word.size();
    if (i < rest.size() && rest[i] == '#') return false;
    while (i < rest.size() && rest[i] == ' ') ++i;
    const absl::string_view ends = key ? "\r\n,]}#:" : "\r\n,]}#";
    return i == rest.size() || ends.find(rest[i]) != absl::string_view::npos;
  }
  return false;
}

int StrictYamlChecker::LineBefore(const YAML::Mark& mark) const {
  size_t i = mark.pos > 0 ? std::min<size_t>(mark.pos, text_.size()) : 0;
  int line = mark.line + 1;
  while (i > 0) {
    const char c = text_[i - 1];
    if (c == ' ' || c == '\r') {
      --i;
    } else if (c == '\n') {
      --i;
      --line;
      // A line that is only a comment is skipped whole.
      const size_t start = text_.rfind('\n', i == 0 ? 0 : i - 1);
      const size_t from =
          start == absl::string_view::npos || i == 0 ? 0 : start + 1;
      const size_t first = text_.find_first_not_of(' ', from);
      if (first < i && text_[first] == '#') {
        i = from;
      }
    } else {
      break;
    }
  }
  return line;
}

bool StrictYamlChecker::InKeyPosition() const {
  return !stack_.empty() && stack_.back().is_map && stack_.back().at_key;
}

bool StrictYamlChecker::CheckProperties(const YAML::Mark& mark,
                                        const std::string& tag,
                                        YAML::anchor_t anchor) {
  if (!status_.ok()) return false;
  if (anchor != YAML::NullAnchor) {
    Fail(mark, "an anchor (&) is not allowed in a config");
    return false;
  }
  // yaml-cpp reports "?" for no tag, and "!" both for a quoted scalar and
  // for an explicit "!"; the mark is where the node's first token is.
  const bool explicit_bang = tag == "!" && mark.pos >= 0 &&
                             static_cast<size_t>(mark.pos) < text_.size() &&
                             text_[mark.pos] == '!';
  if ((tag != "?" && tag != "!") || explicit_bang) {
    Fail(mark, "a tag (!) is not allowed in a config");
    return false;
  }
  if (InKeyPosition()) {
    // Before the key's first token, past blanks: the explicit-key
    // indicator, if there is one. Its own line is reported: the parsers
    // put an empty key's mark at different places after it.
    size_t i = mark.pos > 0 ? static_cast<size_t>(mark.pos) : 0;
    int line = mark.line + 1;
    while (i > 0 && (text_[i - 1] == ' ' || text_[i - 1] == '\n' ||
                     text_[i - 1] == '\r')) {
      if (text_[--i] == '\n') --line;
    }
    if (i > 0 && text_[i - 1] == '?') {
      FailAt(line, "an explicit key (?) is not allowed in a config");
      return false;
    }
  }
  return true;
}

void StrictYamlChecker::OnDocumentStart(const YAML::Mark& mark) {
  if (++documents_ > 1) {
    Fail(mark, "a second YAML document (after ---); a config is one document");
  }
}

void StrictYamlChecker::OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) {
  // Before the explicit-key check: after "? # comment" the parsers mark an
  // empty key at different places, and only the line before is common.
  if (status_.ok() && anchor == YAML::NullAnchor && InKeyPosition()) {
    FailAt(ExplicitNull(mark, /*key=*/true) ? mark.line + 1 : LineBefore(mark),
           "a key must be a string, not empty or null (~)");
    return;
  }
  if (!CheckProperties(mark, "?", anchor)) return;
  if (!stack_.empty() && !ExplicitNull(mark, /*key=*/false)) {
    // An empty value: yaml-cpp marks it at the next token, SnakeYAML right
    // after the ':' or '-' before it; the line of that indicator is the
    // one both can name.
    FailAt(LineBefore(mark),
           absl::StrCat(Path(),
                        ": no value (write one, or leave the key "
                        "out)"));
    return;
  }
  Ended();
}

void StrictYamlChecker::OnAlias(const YAML::Mark& mark, YAML::anchor_t) {
  Fail(mark, "an alias (*) is not allowed in a config");
}

void StrictYamlChecker::OnScalar(const YAML::Mark& mark, const std::string& tag,
                                 YAML::anchor_t anchor,
                                 const std::string& value) {
  if (!CheckProperties(mark, tag, anchor)) return;
  for (size_t i = 0; i < value.size();) {
    // yaml-cpp refuses a surrogate escape ("\uD83D") itself; reading one
    // anyway keeps this loop total.
    Decoded d = DecodeUtf8(value, i, /*surrogates=*/true);
    if (d.length == 0) d = {static_cast<unsigned char>(value[i]), 1};
    if ((!Printable(d.code_point) || d.code_point > 0xFFFF) &&
        d.code_point != '\n' && d.code_point != '\t') {
      Fail(mark,
           absl::StrFormat("character U+%04X not allowed in a value "
                           "(printable characters of the Basic Multilingual "
                           "Plane, \\t and \\n only)",
                           d.code_point));
      return;
    }
    i += d.length;
  }
  const bool quoted = tag == "!" && mark.pos >= 0 &&
                      static_cast<size_t>(mark.pos) < text_.size() &&
                      (text_[mark.pos] == '"' || text_[mark.pos] == '\'');
  if (!CheckLaxSyntax(mark, false, quoted)) return;
  if (InKeyPosition()) {
    Frame& map = stack_.back();
    map.key_line = mark.line;
    if (tag == "?" && value == "<<") {
      Fail(mark, "a merge key (<<) is not allowed in a config");
      return;
    }
    map.key = value;
    auto [it, inserted] = map.key_lines.emplace(value, mark.line + 1);
    if (!inserted) {
      Fail(mark, absl::StrCat(Path(), ": key given twice (first at line ",
                              it->second, ")"));
      return;
    }
  }
  Ended();
}

bool StrictYamlChecker::CheckLaxSyntax(const YAML::Mark& mark,
                                       bool block_sequence, bool quoted) {
  if (!stack_.empty() && !InKeyPosition()) {
    const Frame& map = stack_.back();
    if (map.is_map && map.column >= 0 && mark.line > map.key_line &&
        (block_sequence ? mark.column < map.column
                        : mark.column <= map.column)) {
      Fail(mark,
           "not valid YAML: a value below its key must be indented "
           "more than the key");
      return false;
    }
  }
  if (quoted) {
    const char quote = text_[mark.pos];
    for (size_t i = mark.pos + 1; i < text_.size(); ++i) {
      if (quote == '"' && text_[i] == '\\') {
        ++i;
      } else if (text_[i] == quote) {
        if (quote == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;  // '' is a quote inside single quotes
          continue;
        }
        return true;
      }
    }
    Fail(mark, "not valid YAML: the text ends inside a quoted scalar");
    return false;
  }
  return true;
}

void StrictYamlChecker::Open(const YAML::Mark& mark, const std::string& tag,
                             YAML::anchor_t anchor, bool is_map, bool block) {
  if (!CheckProperties(mark, tag, anchor)) return;
  if (InKeyPosition()) {
    Fail(mark, "a key must be a string, not a list or map");
    return;
  }
  if (!CheckLaxSyntax(mark, !is_map && block, /*quoted=*/false)) return;
  if (stack_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
    Fail(mark, absl::StrCat("nested deeper than ", kMaxYamlDepth,
                            " levels, the most a config may nest"));
    return;
  }
  stack_.push_back(Frame{is_map});
  if (is_map && block) stack_.back().column = mark.column;
}

void StrictYamlChecker::OnSequenceStart(const YAML::Mark& mark,
                                        const std::string& tag,
                                        YAML::anchor_t anchor,
                                        YAML::EmitterStyle::value style) {
  Open(mark, tag, anchor, /*is_map=*/false, style == YAML::EmitterStyle::Block);
}

void StrictYamlChecker::OnMapStart(const YAML::Mark& mark,
                                   const std::string& tag,
                                   YAML::anchor_t anchor,
                                   YAML::EmitterStyle::value style) {
  Open(mark, tag, anchor, /*is_map=*/true, style == YAML::EmitterStyle::Block);
}

void StrictYamlChecker::Close() {
  if (!status_.ok()) return;
  stack_.pop_back();
  Ended();
}

void StrictYamlChecker::Ended() {
  if (stack_.empty()) return;
  Frame& parent = stack_.back();
  if (parent.is_map) {
    parent.at_key = !parent.at_key;
  } else {
    ++parent.index;
  }
}

}  // namespace mayfly::identity
