// The bound on untrusted JSON: see json_util.h.
#include "identity/json_util.h"

#include "absl/strings/str_cat.h"

namespace mayfly::identity {

absl::Status CheckJsonBounds(absl::string_view json, const JsonLimits& limits,
                             absl::string_view what) {
  if (json.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", json.size(), " bytes; at most ",
                     limits.max_bytes, " are accepted"));
  }
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      // A backslash escapes exactly the next character (RFC 8259 section
      // 7); \uXXXX needs no special case, its hex digits are not quotes.
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limits.max_depth) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " nests arrays and objects deeper than ",
                         limits.max_depth, " (at byte ", i, ")"));
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

}  // namespace mayfly::identity
