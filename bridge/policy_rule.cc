// ID patterns with captures and principal templates: see policy_rule.h.
#include "bridge/policy_rule.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "identity/status_macros.h"

namespace mayfly::bridge::internal {
namespace {

using identity::kSpiffeScheme;
using Kind = PatternSegment::Kind;

bool IsCaptureNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

bool IsCaptureName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsCaptureNameChar(c)) return false;
  }
  return true;
}

bool IsControl(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// "{name}" as a whole segment: the name; otherwise an error that says why.
absl::StatusOr<std::string> CaptureSegment(absl::string_view segment) {
  if (segment.size() < 2 || segment.front() != '{' || segment.back() != '}' ||
      segment.find_first_of("{}", 1) != segment.size() - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a capture must be a whole path segment, like /{name}/: \"",
        absl::CHexEscape(segment), "\""));
  }
  absl::string_view name = segment.substr(1, segment.size() - 2);
  if (!IsCaptureName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a capture name is letters, digits and '_': \"",
                     absl::CHexEscape(segment), "\""));
  }
  return std::string(name);
}

}  // namespace

bool IsSegmentChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
}

absl::StatusOr<RulePattern> RulePattern::Parse(absl::string_view text) {
  std::vector<PatternSegment> segments;
  std::string rewritten(text);  // captures read as "*"
  bool has_captures = false;
  const size_t path_start = absl::StartsWith(text, kSpiffeScheme)
                                ? text.find('/', kSpiffeScheme.size())
                                : absl::string_view::npos;
  if (path_start != absl::string_view::npos) {
    rewritten = std::string(text.substr(0, path_start));
    for (absl::string_view segment :
         absl::StrSplit(text.substr(path_start + 1), '/')) {
      PatternSegment out;
      std::string as_written(segment);
      if (segment.find_first_of("{}") != absl::string_view::npos) {
        ASSIGN_OR_RETURN(out.capture, CaptureSegment(segment));
        for (const PatternSegment& earlier : segments) {
          if (earlier.capture == out.capture) {
            return absl::InvalidArgumentError(absl::StrCat(
                "capture {", out.capture, "} appears twice in the pattern"));
          }
        }
        out.kind = Kind::kOne;
        as_written = "*";
        has_captures = true;
      } else if (segment == "*") {
        out.kind = Kind::kOne;
      } else if (segment == "**") {
        out.kind = Kind::kRest;
      } else {
        out.literal = std::string(segment);
      }
      absl::StrAppend(&rewritten, "/", as_written);
      segments.push_back(std::move(out));
    }
  }
  absl::StatusOr<identity::SpiffeIdPattern> matcher =
      identity::SpiffeIdPattern::FromString(rewritten);
  if (!matcher.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(matcher.status().message(),
                     has_captures ? " (captures read as \"*\")" : ""));
  }
  return RulePattern(*std::move(matcher), std::move(segments));
}

std::vector<std::string> RulePattern::CaptureNames() const {
  std::vector<std::string> names;
  for (const PatternSegment& s : segments_) {
    if (!s.capture.empty()) names.push_back(s.capture);
  }
  return names;
}

int RulePattern::CaptureIndex(absl::string_view name) const {
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].capture == name) return static_cast<int>(i);
  }
  return -1;
}

bool RulePattern::Subsumes(const RulePattern& later) const {
  if (matcher_.trust_domain() != later.matcher_.trust_domain()) return false;
  const std::vector<PatternSegment>& a = segments_;
  const std::vector<PatternSegment>& b = later.segments_;
  for (size_t k = 0;; ++k) {
    // "**" here takes whatever one-or-more segments `later` still has.
    if (k < a.size() && a[k].kind == Kind::kRest) return k < b.size();
    if (k == a.size()) return k == b.size();
    // This pattern needs a segment that IDs of `later` do not have.
    if (k == b.size()) return false;
    // `later` matches IDs of several lengths from here; this one, one.
    if (b[k].kind == Kind::kRest) return false;
    if (a[k].kind == Kind::kLiteral &&
        (b[k].kind != Kind::kLiteral || b[k].literal != a[k].literal)) {
      return false;
    }
  }
}

absl::StatusOr<PrincipalTemplate> PrincipalTemplate::Parse(
    absl::string_view text, const RulePattern& pattern) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(why, ": \"", absl::CHexEscape(text), "\""));
  };
  RETURN_IF_ERROR(CheckPrincipal(text));
  std::vector<Piece> pieces;
  std::vector<int> used;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '}') return invalid("'}' without its '{'");
    if (text[i] != '{') {
      const size_t end = text.find_first_of("{}", i);
      const size_t stop = end == absl::string_view::npos ? text.size() : end;
      pieces.push_back(Piece{false, std::string(text.substr(i, stop - i))});
      i = stop;
      continue;
    }
    const size_t close = text.find_first_of("{}", i + 1);
    if (close == absl::string_view::npos || text[close] != '}') {
      return invalid("'{' without its '}'");
    }
    absl::string_view name = text.substr(i + 1, close - i - 1);
    const int segment = pattern.CaptureIndex(name);
    if (name.empty() || segment < 0) {
      std::vector<std::string> names = pattern.CaptureNames();
      return invalid(absl::StrCat(
          "{", name, "} is not a capture of the id pattern (its captures: ",
          names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
    }
    for (int earlier : used) {
      if (earlier == segment) {
        return invalid(absl::StrCat("{", name, "} is used twice"));
      }
    }
    used.push_back(segment);
    pieces.push_back(Piece{true, "", segment});
    i = close + 1;
  }
  return PrincipalTemplate(std::move(pieces));
}

std::string PrincipalTemplate::Expand(
    const std::vector<absl::string_view>& segments) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (piece.is_capture) {
      absl::StrAppend(&out, segments[piece.segment]);
    } else {
      absl::StrAppend(&out, piece.literal);
    }
  }
  return out;
}

bool PrincipalTemplate::IsLiteral() const {
  for (const Piece& piece : pieces_) {
    if (piece.is_capture) return false;
  }
  return true;
}

bool PrincipalTemplate::CanProduce(absl::string_view principal) const {
  // Captures together hold at most one whole ID; anything longer is not a
  // principal of this template, and the bound keeps the memo small.
  size_t literal_size = 0;
  for (const Piece& piece : pieces_) literal_size += piece.literal.size();
  if (principal.size() > literal_size + identity::kMaxSpiffeIdLength) {
    return false;
  }
  // memo[piece * (n + 1) + pos]: 0 not yet known, 1 yes, -1 no.
  std::vector<signed char> memo(pieces_.size() * (principal.size() + 1), 0);
  return ProduceFrom(0, 0, principal, memo);
}

bool PrincipalTemplate::ProduceFrom(size_t piece, size_t pos,
                                    absl::string_view principal,
                                    std::vector<signed char>& memo) const {
  if (piece == pieces_.size()) return pos == principal.size();
  signed char& known = memo[piece * (principal.size() + 1) + pos];
  if (known != 0) return known > 0;
  bool result = false;
  const Piece& p = pieces_[piece];
  if (!p.is_capture) {
    result = absl::StartsWith(principal.substr(pos), p.literal) &&
             ProduceFrom(piece + 1, pos + p.literal.size(), principal, memo);
  } else {
    // A capture took one whole segment: try every end of such a run.
    for (size_t end = pos + 1; !result && end <= principal.size() &&
                               IsSegmentChar(principal[end - 1]);
         ++end) {
      const absl::string_view segment = principal.substr(pos, end - pos);
      if (segment == "." || segment == "..") continue;
      result = ProduceFrom(piece + 1, end, principal, memo);
    }
  }
  known = result ? 1 : -1;
  return result;
}

absl::Status CheckPrincipal(absl::string_view principal) {
  const size_t colon = principal.find(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      colon + 1 == principal.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", absl::CHexEscape(principal),
        "\" is not a principal: want TYPE:NAME, like User:orders"));
  }
  for (char c : principal.substr(0, colon)) {
    if (!absl::ascii_isalpha(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", absl::CHexEscape(principal),
                       "\": a principal's TYPE is letters, like User"));
    }
  }
  for (char c : principal) {
    if (IsControl(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", absl::CHexEscape(principal),
                       "\": control characters are not allowed"));
    }
  }
  // Kafka reads the name "*" as every principal (AclEntry's wildcard): a
  // policy that owned it could grant to, or plan away the ACLs of, everyone.
  if (principal.substr(colon + 1) == kWildcardPrincipalName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", absl::CHexEscape(principal),
        "\": \"*\" is Kafka's wildcard principal (every user); name "
        "principals one by one"));
  }
  return absl::OkStatus();
}

}  // namespace mayfly::bridge::internal
