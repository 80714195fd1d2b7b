// The text of a strict-subset config: see yaml_text.h. Every message here
// has a twin, word for word, in the broker plugin's YamlText.java.
#include "identity/yaml_text.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mayfly::identity {
namespace yaml_text_internal {

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

bool Printable(uint32_t c) {
  if (c >= 0x20 && c <= 0x7E) return true;
  if (c < 0xA0 || c == 0x2028 || c == 0x2029 || c == 0xFEFF) return false;
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  return c != 0xFFFE && c != 0xFFFF && c <= 0x10FFFF;
}

}  // namespace yaml_text_internal

namespace {

using yaml_text_internal::Decoded;
using yaml_text_internal::DecodeUtf8;
using yaml_text_internal::Printable;

std::string At(absl::string_view source, int line) {
  return absl::StrCat(source, ":", line);
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

}  // namespace mayfly::identity
