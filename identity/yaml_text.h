// The text of a config in the strict YAML subset (yaml_strict.h), checked
// before any parser sees it: size, UTF-8, characters, directives and
// document markers. SnakeYAML ends a line at U+0085, U+2028 and U+2029 as
// well as \n and \r; yaml-cpp only at \n and \r: text after one of those
// inside a comment is live policy in one and a comment in the other, so
// none of them is allowed, nor any other control character, tab, BOM or
// non-character. The Java twin is YamlText.java.
#ifndef MAYFLY_IDENTITY_YAML_TEXT_H_
#define MAYFLY_IDENTITY_YAML_TEXT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mayfly::identity {

// The largest config, in bytes. The largest policy seen is a few kilobytes
// and an agent's entries file a few hundred; 1 MiB leaves room for both
// while bounding what a hostile file costs either parser.
inline constexpr size_t kMaxYamlBytes = 1 << 20;

// InvalidArgument "SOURCE[:LINE]: what" for the first problem: more than
// kMaxYamlBytes, bad UTF-8, a character outside printable text with \n or
// \r\n line ends, a '%' directive, `---` after content, or text after
// `...`.
absl::Status CheckYamlText(absl::string_view text, absl::string_view source);

namespace yaml_text_internal {

// One decoded character, or the byte that starts a malformed sequence.
struct Decoded {
  uint32_t code_point = 0;
  size_t length = 0;  // 0: malformed
};

// Strict UTF-8 (RFC 3629) at s[i]: no overlong forms, nothing above
// U+10FFFF. `surrogates`: also take U+D800..U+DFFF written as UTF-8
// (CESU-8), so that a value holding one is refused as that character.
Decoded DecodeUtf8(absl::string_view s, size_t i, bool surrogates);

// Printable in YAML 1.1 and 1.2 alike, and a line break in neither.
bool Printable(uint32_t c);

}  // namespace yaml_text_internal
}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_YAML_TEXT_H_
