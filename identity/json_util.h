// Writing JSON by hand where the field order must be fixed (JWT headers and
// claims, JWK sets, log lines): a string literal with JSON escapes.
#ifndef MAYFLY_IDENTITY_JSON_UTIL_H_
#define MAYFLY_IDENTITY_JSON_UTIL_H_

#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace mayfly::identity {

// `s` as a JSON string, quotes included (RFC 8259 section 7).
inline std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_JSON_UTIL_H_
