// The one YAML language every Mayfly config is written in: a strict subset
// that yaml-cpp (YAML 1.2, the C++ bridge and agent) and SnakeYAML (YAML
// 1.1, the Java broker plugin) read the same way. The two differ on line
// breaks (SnakeYAML also ends a line at U+0085, U+2028 and U+2029, so text
// after one inside a comment is live on the broker and a comment in C++),
// on tags, anchors, merge keys, directives and documents. Everything
// outside the subset is refused, before either parser builds anything, with
// the same "SOURCE:LINE: what" message in both languages; the Java twin is
// kafka/broker-plugin/.../policy/YamlStrict.java, and the shared cases are
// bridge/testdata/yaml_vectors/.
//
// The subset: at most kMaxYamlBytes of UTF-8; characters printable (U+0020
// to U+007E, U+00A0 and above) except U+2028, U+2029, U+FEFF, U+FFFE and
// U+FFFF; lines end in \n or \r\n; no tabs, no other C0 or C1 control
// character. One document: `---` only before any content, `...` only with
// nothing but comments after it, no `%` directive. No tag, anchor, alias,
// merge key (<<), explicit key (?), key that is a list, map or null, no
// empty value, no
// nesting deeper than kMaxYamlDepth, no key given twice in one mapping.
// Scalar values (after escapes) hold the same printable characters, \n,
// \t, and nothing outside the Basic Multilingual Plane.
#ifndef MAYFLY_IDENTITY_YAML_STRICT_H_
#define MAYFLY_IDENTITY_YAML_STRICT_H_

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "identity/yaml_text.h"

namespace mayfly::identity {

// The deepest nesting of lists and maps, the document's top map counting
// as 1. Our configs nest 4 deep; yaml-cpp recurses per level.
inline constexpr int kMaxYamlDepth = 32;

// Follows yaml-cpp's events for the checks that need the parser: tags,
// anchors, aliases, keys, depth, duplicate keys, scalar values and a second
// document. Memory is O(open collections + keys of the open mappings); a
// node's path ("a.b[2].c") is built only for an error. Keeps the first
// problem; `text` must outlive the checker.
class StrictYamlChecker : public YAML::EventHandler {
 public:
  StrictYamlChecker(absl::string_view text, absl::string_view source)
      : text_(text), source_(source) {}

  const absl::Status& status() const { return status_; }
  // Documents started so far.
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override;
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnScalar(const YAML::Mark& mark, const std::string& tag,
                YAML::anchor_t anchor, const std::string& value) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag,
                       YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override;
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag,
                  YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override;
  void OnMapEnd() override { Close(); }

 private:
  // An open mapping or list.
  struct Frame {
    bool is_map;
    bool at_key = true;  // mapping: the next node is a key
    std::string key;     // mapping: the current key
    absl::flat_hash_map<std::string, int> key_lines;  // mapping
    size_t index = 0;                                 // list: next item
    int column = -1;    // block mapping: its keys' column
    int key_line = -1;  // block mapping: the current key's line (0-based)
  };

  // Node properties common to every kind: the anchor and the tag.
  bool CheckProperties(const YAML::Mark& mark, const std::string& tag,
                       YAML::anchor_t anchor);
  // A node that is a key of the innermost mapping: must be a scalar.
  bool InKeyPosition() const;
  // Whether a null's mark is at "~", "null", "Null" or "NULL" (yaml-cpp
  // reports an empty node as null too, marked at the token after it).
  // As a whole key (`key`) or value.
  bool ExplicitNull(const YAML::Mark& mark, bool key) const;
  // The line of the last text before `mark`, past blanks and lines that are
  // only a comment.
  int LineBefore(const YAML::Mark& mark) const;
  void Open(const YAML::Mark& mark, const std::string& tag,
            YAML::anchor_t anchor, bool is_map, bool block);
  // Where yaml-cpp is laxer than SnakeYAML (and than YAML): a value on a
  // line after its key must be indented past the key (a block list may
  // start at the key's column), and a quoted scalar must be closed before
  // the end of the text. Refused as "not valid YAML", as SnakeYAML does.
  bool CheckLaxSyntax(const YAML::Mark& mark, bool block_sequence, bool quoted);
  void Close();
  // A node ended: a key is followed by its value, a value by a key.
  void Ended();
  void Fail(const YAML::Mark& mark, absl::string_view message);
  void FailAt(int line, absl::string_view message);
  // "a.b[2]": where the innermost open collection's current child is.
  std::string Path() const;

  const absl::string_view text_;
  const std::string source_;
  std::vector<Frame> stack_;
  int documents_ = 0;
  absl::Status status_;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_YAML_STRICT_H_
