// SPIFFE ID parsing. One left-to-right scan per input, no regex, and no
// allocation until the input is known to be valid (except to build an error
// message), because the agent parses an ID for every workload call.
#include "identity/spiffe_id.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

// Inputs quoted in error messages are cut to this many bytes, so a hostile
// 1 MB "ID" does not become a 1 MB log line. A readability choice, not a
// spec limit.
constexpr size_t kMaxQuotedInputLength = 128;

// One message per rule. Tests match on these words; keep them stable.
constexpr absl::string_view kEmpty = "SPIFFE ID cannot be empty";
constexpr absl::string_view kTooLong =
    "SPIFFE ID is too long (the maximum is 2048 bytes)";
constexpr absl::string_view kBadScheme =
    "scheme is missing or invalid (a SPIFFE ID starts with lowercase "
    "\"spiffe://\")";
constexpr absl::string_view kMissingTrustDomain = "trust domain is missing";
constexpr absl::string_view kTrustDomainTooLong =
    "trust domain is too long (the maximum is 255 bytes)";
constexpr absl::string_view kBadTrustDomainChar =
    "trust domain characters are limited to lowercase letters, numbers, "
    "dots, dashes, and underscores";
constexpr absl::string_view kPort = "trust domain cannot have a port";
constexpr absl::string_view kUserinfo = "trust domain cannot have userinfo";
constexpr absl::string_view kPathNoLeadingSlash =
    "path must be empty or start with '/'";
constexpr absl::string_view kEmptySegment =
    "path cannot contain empty segments";
constexpr absl::string_view kTrailingSlash =
    "path cannot have a trailing slash";
constexpr absl::string_view kDotSegment =
    "path cannot contain dot segments (\".\" or \"..\")";
constexpr absl::string_view kBadPathChar =
    "path segment characters are limited to letters, numbers, dots, dashes, "
    "and underscores";
constexpr absl::string_view kPercentEncoded =
    "percent-encoded characters are not allowed";
constexpr absl::string_view kQueryOrFragment =
    "SPIFFE ID cannot have a query or fragment";
constexpr absl::string_view kPartialWildcard =
    "pattern wildcards must be a whole segment (\"*\" or \"**\")";
constexpr absl::string_view kDoubleStarNotLast =
    "pattern wildcard \"**\" may only be the last segment";

absl::Status Invalid(absl::string_view rule, absl::string_view input) {
  if (input.size() <= kMaxQuotedInputLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(rule, ": \"", absl::CHexEscape(input), "\""));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      rule, ": \"", absl::CHexEscape(input.substr(0, kMaxQuotedInputLength)),
      "...\" (", input.size(), " bytes)"));
}

bool IsTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool IsPathChar(char c) {
  return IsTrustDomainChar(c) || (c >= 'A' && c <= 'Z');
}

// A byte outside the allowed set usually means the input is some other kind
// of URI; naming that kind is more useful than listing the allowed set.
absl::string_view RuleForBadUriChar(char c, absl::string_view fallback) {
  switch (c) {
    case '%':
      return kPercentEncoded;
    case '?':
    case '#':
      return kQueryOrFragment;
    default:
      return fallback;
  }
}

// Validates the trust domain at the start of `rest` and returns its length.
// In an ID (`in_id`) the trust domain ends at the first '/'; a bare name runs
// to the end of `rest`. `input` is what error messages quote.
absl::StatusOr<size_t> ScanTrustDomain(absl::string_view rest, bool in_id,
                                       absl::string_view input) {
  size_t i = 0;
  for (; i < rest.size(); ++i) {
    const char c = rest[i];
    if (IsTrustDomainChar(c)) continue;
    if (c == '/' && in_id) break;
    if (c == ':' || c == '@') {
      // In "user:pass@host" the ':' comes first, but the problem is the
      // userinfo, so look ahead for an '@' before blaming a port.
      absl::string_view authority =
          in_id ? rest.substr(0, rest.find('/')) : rest;
      return Invalid(absl::StrContains(authority, '@') ? kUserinfo : kPort,
                     input);
    }
    return Invalid(RuleForBadUriChar(c, kBadTrustDomainChar), input);
  }
  if (i == 0) return Invalid(kMissingTrustDomain, input);
  if (i > kMaxTrustDomainLength) return Invalid(kTrustDomainTooLong, input);
  return i;
}

struct IdParts {
  absl::string_view trust_domain;
  absl::string_view path;  // "" or starts with '/'; not yet validated.
};

// Checks everything up to the path: emptiness, length, scheme, and the trust
// domain. Shared by IDs and patterns, which differ only in their paths.
absl::StatusOr<IdParts> SplitId(absl::string_view s) {
  if (s.empty()) return Invalid(kEmpty, s);
  if (s.size() > kMaxSpiffeIdLength) return Invalid(kTooLong, s);
  if (!absl::StartsWith(s, kSpiffeScheme)) return Invalid(kBadScheme, s);
  absl::string_view rest = s.substr(kSpiffeScheme.size());
  ASSIGN_OR_RETURN(size_t td_length, ScanTrustDomain(rest, true, s));
  return IdParts{rest.substr(0, td_length), rest.substr(td_length)};
}

// Validates `path` ("" or "/seg/seg...") in one pass, calling
// `on_segment(begin, size, is_wildcard)` for each segment once it is known to
// be valid. With `allow_wildcards`, a segment may be "*", or "**" if it is
// the last one; otherwise '*' is just a disallowed character.
template <typename OnSegment>
absl::Status ScanPath(absl::string_view path, absl::string_view input,
                      bool allow_wildcards, OnSegment&& on_segment) {
  if (path.empty()) return absl::OkStatus();
  // Only FromParts can get here; in a parsed ID the path starts at a '/'.
  if (path[0] != '/') return Invalid(kPathNoLeadingSlash, input);
  size_t begin = 1;
  bool has_star = false;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') {
      const char c = path[i];
      if (IsPathChar(c)) continue;
      if (c == '*' && allow_wildcards) {
        has_star = true;
        continue;
      }
      return Invalid(RuleForBadUriChar(c, kBadPathChar), input);
    }
    // path[begin, i) is a whole segment.
    const absl::string_view segment = path.substr(begin, i - begin);
    const bool last = i == path.size();
    if (segment.empty()) {
      return Invalid(last ? kTrailingSlash : kEmptySegment, input);
    }
    if (segment == "." || segment == "..") return Invalid(kDotSegment, input);
    if (has_star) {
      if (segment != "*" && segment != "**") {
        return Invalid(kPartialWildcard, input);
      }
      if (segment == "**" && !last) return Invalid(kDoubleStarNotLast, input);
    }
    on_segment(begin, segment.size(), has_star);
    begin = i + 1;
    has_star = false;
  }
  return absl::OkStatus();
}

absl::Status ValidateIdPath(absl::string_view path, absl::string_view input) {
  return ScanPath(path, input, /*allow_wildcards=*/false,
                  [](size_t, size_t, bool) {});
}

}  // namespace

absl::StatusOr<TrustDomain> TrustDomain::FromString(absl::string_view s) {
  // Same cue as go-spiffe: a bare name never contains ":/", so anything that
  // does is meant as a URI and gets the URI's (more precise) errors.
  if (absl::StrContains(s, ":/")) {
    ASSIGN_OR_RETURN(IdParts parts, SplitId(s));
    RETURN_IF_ERROR(ValidateIdPath(parts.path, s));
    return TrustDomain(std::string(parts.trust_domain));
  }
  RETURN_IF_ERROR(ScanTrustDomain(s, /*in_id=*/false, s).status());
  return TrustDomain(std::string(s));
}

std::string TrustDomain::IdString() const {
  return absl::StrCat(kSpiffeScheme, name_);
}

absl::StatusOr<SpiffeId> SpiffeId::FromString(absl::string_view s) {
  ASSIGN_OR_RETURN(IdParts parts, SplitId(s));
  RETURN_IF_ERROR(ValidateIdPath(parts.path, s));
  return SpiffeId(TrustDomain(std::string(parts.trust_domain)),
                  std::string(parts.path));
}

absl::StatusOr<SpiffeId> SpiffeId::FromParts(const TrustDomain& td,
                                             absl::string_view path) {
  if (kSpiffeScheme.size() + td.name().size() + path.size() >
      kMaxSpiffeIdLength) {
    return Invalid(kTooLong, absl::StrCat(kSpiffeScheme, td.name(), path));
  }
  RETURN_IF_ERROR(ValidateIdPath(path, path));
  return SpiffeId(td, std::string(path));
}

std::vector<absl::string_view> SpiffeId::segments() const {
  if (path_.empty()) return {};
  // A valid path has no empty segments, so a plain split is exact.
  return absl::StrSplit(absl::string_view(path_).substr(1), '/');
}

std::string SpiffeId::ToString() const {
  return absl::StrCat(kSpiffeScheme, trust_domain_.name(), path_);
}

absl::StatusOr<SpiffeIdPattern> SpiffeIdPattern::FromString(
    absl::string_view s) {
  ASSIGN_OR_RETURN(IdParts parts, SplitId(s));
  std::vector<Segment> segments;
  RETURN_IF_ERROR(ScanPath(
      parts.path, s, /*allow_wildcards=*/true,
      [&segments](size_t begin, size_t size, bool is_wildcard) {
        SegmentKind kind = SegmentKind::kLiteral;
        if (is_wildcard) {
          kind = size == 1 ? SegmentKind::kAnyOne : SegmentKind::kOneOrMore;
        }
        segments.push_back(Segment{kind, begin, size});
      }));
  return SpiffeIdPattern(TrustDomain(std::string(parts.trust_domain)),
                         std::string(parts.path), std::move(segments));
}

bool SpiffeIdPattern::Matches(const SpiffeId& id) const {
  if (id.trust_domain() != trust_domain_) return false;
  // Walk the ID's path one "/segment" at a time; `rest` is what is left.
  absl::string_view rest = id.path();
  for (const Segment& segment : segments_) {
    if (segment.kind == SegmentKind::kOneOrMore) return !rest.empty();
    if (rest.empty()) return false;
    rest.remove_prefix(1);  // The '/' before the segment.
    const absl::string_view actual = rest.substr(0, rest.find('/'));
    if (segment.kind == SegmentKind::kLiteral &&
        actual !=
            absl::string_view(path_).substr(segment.begin, segment.size)) {
      return false;
    }
    rest.remove_prefix(actual.size());
  }
  return rest.empty();
}

std::string SpiffeIdPattern::ToString() const {
  return absl::StrCat(kSpiffeScheme, trust_domain_.name(), path_);
}

}  // namespace mayfly::identity
