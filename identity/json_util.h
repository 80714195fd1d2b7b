// Writing JSON by hand where the field order must be fixed (JWT headers and
// claims, JWK sets, log lines): a string literal with JSON escapes. And the
// size and nesting bound checked on untrusted JSON before a parser sees it:
// a general parser's cost can grow with nesting faster than with size
// (protobuf's JSON parser is quadratic in the depth of nested arrays).
#ifndef MAYFLY_IDENTITY_JSON_UTIL_H_
#define MAYFLY_IDENTITY_JSON_UTIL_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
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

struct JsonLimits {
  size_t max_bytes;
  // Arrays and objects open at once; the top-level object counts as 1.
  int max_depth;
};

// OK if `json` is at most `limits.max_bytes` long and never has more than
// `limits.max_depth` arrays and objects open at once (brackets inside
// strings do not count). One pass, no allocation: safe on any input.
// Well-formedness is left to the parser that runs next. InvalidArgument
// names `what` and the limit exceeded.
absl::Status CheckJsonBounds(absl::string_view json, const JsonLimits& limits,
                             absl::string_view what);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_JSON_UTIL_H_
