// The pieces of one `principals` rule, for bridge/policy.cc only: an ID
// pattern with named captures and the principal template it fills in.
//
// A capture "{name}" is one whole path segment. For matching it is read as
// "*" by identity::SpiffeIdPattern, which does the actual matching; what it
// captured is then taken from the ID by position (every segment before a
// final "**" is exactly one segment, so positions line up).
//
// Errors are InvalidArgument with a message that says what is wrong and
// quotes the text; the policy loader adds "FILE:LINE: FIELD:".
#ifndef MAYFLY_BRIDGE_POLICY_RULE_H_
#define MAYFLY_BRIDGE_POLICY_RULE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/spiffe_id.h"

namespace mayfly::bridge::internal {

// One path segment of a rule's ID pattern.
struct PatternSegment {
  enum class Kind {
    kLiteral,  // matches itself exactly
    kOne,      // "*" or "{name}": exactly one segment
    kRest,     // "**", last only: one or more segments
  };
  Kind kind = Kind::kLiteral;
  std::string literal;  // kLiteral: the segment
  std::string capture;  // kOne from "{name}": the name; else empty
};

// "spiffe://prod.acme/ns/{ns}/sa/{sa}". Immutable, copyable.
class RulePattern {
 public:
  // Refuses a capture that is not a whole segment ("ns-{x}"), a capture
  // name that is not [A-Za-z0-9_]+, a name captured twice, and anything
  // SpiffeIdPattern refuses.
  static absl::StatusOr<RulePattern> Parse(absl::string_view text);

  const identity::SpiffeIdPattern& matcher() const { return matcher_; }
  const std::vector<PatternSegment>& segments() const { return segments_; }
  // Capture names in path order.
  std::vector<std::string> CaptureNames() const;
  // The index of the path segment capture `name` takes, or -1.
  int CaptureIndex(absl::string_view name) const;

  // True when every ID `later` matches, this pattern matches too, so a rule
  // with `later` placed after this one could never be reached. Exact for
  // these patterns: literal, one-segment and final one-or-more segments.
  bool Subsumes(const RulePattern& later) const;

 private:
  RulePattern(identity::SpiffeIdPattern matcher,
              std::vector<PatternSegment> segments)
      : matcher_(std::move(matcher)), segments_(std::move(segments)) {}

  identity::SpiffeIdPattern matcher_;
  std::vector<PatternSegment> segments_;
};

// "User:{ns}.{sa}": TYPE ":" NAME, where TYPE is one or more ASCII letters
// and NAME is literal text and "{capture}" references. Immutable, copyable.
class PrincipalTemplate {
 public:
  // Refuses an unbalanced or empty brace, a name `pattern` does not
  // capture, a capture used twice, a TYPE that is not letters, an empty
  // NAME, and control characters.
  static absl::StatusOr<PrincipalTemplate> Parse(absl::string_view text,
                                                 const RulePattern& pattern);

  // The principal for an ID `pattern` matched; `segments` are the ID's.
  std::string Expand(const std::vector<absl::string_view>& segments) const;

  // Whether Expand can return `principal` for some ID: literal text must
  // match exactly, each capture stands for one whole segment (one or more
  // of [A-Za-z0-9._-], neither "." nor ".."). The 2048-byte bound on the
  // whole ID is not taken into account. Linear in the template's pieces
  // times the square of the principal's length.
  bool CanProduce(absl::string_view principal) const;

  // The template without captures, when it has none.
  bool IsLiteral() const;

 private:
  struct Piece {
    bool is_capture = false;
    std::string literal;  // !is_capture
    int segment = -1;     // is_capture: the ID segment it takes
  };
  explicit PrincipalTemplate(std::vector<Piece> pieces)
      : pieces_(std::move(pieces)) {}
  bool ProduceFrom(size_t piece, size_t pos, absl::string_view principal,
                   std::vector<signed char>& memo) const;

  std::vector<Piece> pieces_;
};

// The principal name Kafka matches against every principal ("User:*").
inline constexpr absl::string_view kWildcardPrincipalName = "*";

// "Type:Name" as Kafka reads a principal: TYPE one or more ASCII letters,
// NAME not empty and not the wildcard "*"; no control characters anywhere.
absl::Status CheckPrincipal(absl::string_view principal);

// Whether `c` may appear in a SPIFFE ID path segment.
bool IsSegmentChar(char c);

}  // namespace mayfly::bridge::internal

#endif  // MAYFLY_BRIDGE_POLICY_RULE_H_
