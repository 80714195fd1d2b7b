// Escaping for .properties files: see properties_text.h.
#include "bridge/properties_text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mayfly::bridge {
namespace {

// One UTF-8 character at s[i]: its code point and length, or U+FFFD and 1
// for a byte that does not start a well-formed one.
uint32_t Decode(absl::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char b0 = b(0);
  size_t length = b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  uint32_t cp = length == 1 ? b0 : b0 & (0x7F >> length);
  bool ok = b0 < 0x80 || (b0 >= 0xC2 && b0 <= 0xF4);
  for (size_t k = 1; ok && k < length; ++k) {
    ok = i + k < s.size() && (b(k) & 0xC0) == 0x80;
    if (ok) cp = (cp << 6) | (b(k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (!ok || cp < kMin[length] || (cp >= 0xD800 && cp <= 0xDFFF) ||
      cp > 0x10FFFF) {
    ++i;
    return 0xFFFD;
  }
  i += length;
  return cp;
}

void AppendUnicodeEscape(std::string& out, uint32_t cp) {
  if (cp >= 0x10000) {  // a surrogate pair, as Java strings hold it
    cp -= 0x10000;
    absl::StrAppend(&out, absl::StrFormat("\\u%04X\\u%04X", 0xD800 + (cp >> 10),
                                          0xDC00 + (cp & 0x3FF)));
    return;
  }
  absl::StrAppend(&out, absl::StrFormat("\\u%04X", cp));
}

}  // namespace

std::string PropertiesValue(absl::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size();) {
    const size_t at = i;
    const uint32_t cp = Decode(value, i);
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp < 0x20 || cp >= 0x7F || (at == 0 && cp == ' ')) {
      AppendUnicodeEscape(out, cp);
    } else {
      out += static_cast<char>(cp);
    }
  }
  return out;
}

std::string PropertiesComment(absl::string_view text) {
  return PropertiesValue(text);
}

std::optional<std::string> FirstControlCharacter(absl::string_view s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return absl::StrFormat("U+%04X", u);
  }
  return std::nullopt;
}

}  // namespace mayfly::bridge
