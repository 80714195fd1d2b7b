// The strict YAML subset: see yaml_strict.h. Every message here has a twin,
// word for word, in the broker plugin's YamlStrict.java.
#include "identity/yaml_strict.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mayfly::identity {
namespace {

std::string At(absl::string_view source, int line) {
  return absl::StrCat(source, ":", line);
}

// One decoded character, or the byte that starts a malformed sequence.
struct Decoded {
  uint32_t code_point = 0;
  size_t length = 0;  // 0: malformed
};

// Strict UTF-8 (RFC 3629): no overlong forms, nothing above U+10FFFF.
// `surrogates`: also take U+D800..U+DFFF written as UTF-8 (CESU-8), so that
// a value holding one is refused as that character.
Decoded DecodeUtf8(absl::string_view s, size_t i, bool surrogates) {
  const auto byte = [&](size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  const int b0 = byte(0);
  if (b0 < 0x80) return {static_cast<uint32_t>(b0), 1};
  size_t length = 0;
  int low = 0x80, high = 0xBF;  // range of the second byte
  uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED && !surrogates) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return {};
  }
  for (size_t k = 1; k < length; ++k) {
    const int b = byte(k);
    if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) return {};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, length};
}

// Printable in YAML 1.1 and 1.2 alike, and a line break in neither.
bool Printable(uint32_t c) {
  if (c >= 0x20 && c <= 0x7E) return true;
  if (c < 0xA0 || c == 0x2028 || c == 0x2029 || c == 0xFEFF) return false;
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  return c != 0xFFFE && c != 0xFFFF && c <= 0x10FFFF;
}

std::string CharacterError(absl::string_view source, int line, uint32_t c) {
  return absl::StrFormat(
      "%s: character U+%04X not allowed (a config is printable UTF-8, lines "
      "end in \\n or \\r\\n, no tabs)",
      At(source, line), c);
}

bool IsMarker(absl::string_view line, absl::string_view marker) {
  return absl::StartsWith(line, marker) &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\r');
}

// Nothing but spaces, then the end or a comment.
bool BlankOrComment(absl::string_view line) {
  size_t i = line.find_first_not_of(' ');
  return i == absl::string_view::npos || line[i] == '#' || line[i] == '\r';
}

absl::Status CheckLine(absl::string_view source, int number,
                       absl::string_view line, bool& content,
                       std::optional<int>& end_marker) {
  if (absl::StartsWith(line, "%")) {
    return absl::InvalidArgumentError(
        absl::StrCat(At(source, number),
                     ": a directive (%) is not allowed; a config is plain "
                     "YAML"));
  }
  if (IsMarker(line, "---")) {
    if (content || end_marker.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          At(source, number),
          ": a second YAML document (after ---); a config is one document"));
    }
    content = true;
    return absl::OkStatus();
  }
  if (IsMarker(line, "...")) {
    end_marker = number;
    return absl::OkStatus();
  }
  if (BlankOrComment(line)) return absl::OkStatus();
  if (end_marker.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(At(source, number),
                     ": text after the end of the document (...); a config "
                     "is one document"));
  }
  content = true;
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckYamlText(absl::string_view text, absl::string_view source) {
  if (text.size() > kMaxYamlBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than ", kMaxYamlBytes,
                     " bytes, the most a config may be"));
  }
  bool content = false;
  std::optional<int> end_marker;
  int number = 1;
  for (size_t start = 0; start < text.size(); ++number) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size();
    const absl::string_view line = text.substr(start, end - start);
    if (absl::Status s = CheckLine(source, number, line, content, end_marker);
        !s.ok()) {
      return s;
    }
    for (size_t i = 0; i < line.size();) {
      const Decoded d = DecodeUtf8(line, i, /*surrogates=*/false);
      if (d.length == 0) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: not valid UTF-8 (byte 0x%02X)", At(source, number),
            static_cast<unsigned char>(line[i])));
      }
      const bool crlf =
          d.code_point == '\r' && i + 1 == line.size() && end < text.size();
      if (!Printable(d.code_point) && !crlf) {
        return absl::InvalidArgumentError(
            CharacterError(source, number, d.code_point));
      }
      i += d.length;
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

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

bool StrictYamlChecker::ExplicitNull(const YAML::Mark& mark) const {
  if (mark.pos < 0) return false;
  const absl::string_view rest = text_.substr(mark.pos);
  for (absl::string_view word : {"~", "null", "Null", "NULL"}) {
    if (!absl::StartsWith(rest, word)) continue;
    if (rest.size() == word.size()) return true;
    const char next = rest[word.size()];
    if (absl::string_view(" \r\n,]}#").find(next) != absl::string_view::npos) {
      return true;
    }
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
  if (!CheckProperties(mark, "?", anchor)) return;
  if (InKeyPosition()) {
    Fail(mark, "a key must be a string, not empty or null (~)");
    return;
  }
  if (!stack_.empty() && !ExplicitNull(mark)) {
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
