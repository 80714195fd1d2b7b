// SPIFFE IDs, trust domains, and patterns that match IDs.
//
// The parsers follow the SPIFFE ID specification (SPIFFE-ID.md, sections 2.1
// to 2.3) strictly: nothing is normalised, so a string either is already the
// canonical form of an ID or is rejected. That keeps "the same ID" and "the
// same string" one notion, which authorization checks depend on.
//
// Every error is absl::InvalidArgumentError; its message names the rule that
// was broken and quotes (a possibly truncated, C-escaped copy of) the input.
//
// All three types are values: copyable, movable, immutable after a successful
// FromString, and safe to share between threads.
#ifndef MAYFLY_IDENTITY_SPIFFE_ID_H_
#define MAYFLY_IDENTITY_SPIFFE_ID_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::identity {

// SPIFFE-ID.md §2.3: implementations must support, and should not generate,
// IDs longer than 2048 bytes; we reject anything longer.
inline constexpr size_t kMaxSpiffeIdLength = 2048;

// SPIFFE-ID.md §2.3: RFC 3986 limits the URI host, hence the trust domain
// name, to 255 bytes.
inline constexpr size_t kMaxTrustDomainLength = 255;

// SPIFFE-ID.md §2: the only scheme, always lowercase.
inline constexpr absl::string_view kSpiffeScheme = "spiffe://";

// The authority of a SPIFFE ID: a non-empty name of lowercase letters,
// digits, '.', '-' and '_', at most kMaxTrustDomainLength bytes.
class TrustDomain {
 public:
  // Accepts either a bare name ("example.org") or a SPIFFE ID string
  // ("spiffe://example.org", "spiffe://example.org/ns/prod"). An ID must be
  // valid as a whole; its path is then dropped. Input containing ":/" is
  // taken to be an ID, so "SPIFFE://example.org" fails on the scheme rather
  // than as a strange bare name.
  static absl::StatusOr<TrustDomain> FromString(absl::string_view s);

  // "example.org".
  const std::string& name() const { return name_; }
  // "spiffe://example.org": the ID of the trust domain itself.
  std::string IdString() const;

  friend bool operator==(const TrustDomain& a, const TrustDomain& b) {
    return a.name_ == b.name_;
  }
  friend bool operator!=(const TrustDomain& a, const TrustDomain& b) {
    return !(a == b);
  }
  friend bool operator<(const TrustDomain& a, const TrustDomain& b) {
    return a.name_ < b.name_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const TrustDomain& td) {
    return H::combine(std::move(h), td.name_);
  }
  friend std::ostream& operator<<(std::ostream& os, const TrustDomain& td) {
    return os << td.name_;
  }

 private:
  friend class SpiffeId;
  friend class SpiffeIdPattern;
  explicit TrustDomain(std::string name) : name_(std::move(name)) {}

  std::string name_;
};

// "spiffe://" + trust domain + path, where the path is empty or a sequence
// of "/segment"; a segment is one or more ASCII letters, digits, '.', '-' or
// '_', and is neither "." nor "..".
class SpiffeId {
 public:
  static absl::StatusOr<SpiffeId> FromString(absl::string_view s);

  // Builds the ID of `path` ("" or like "/ns/prod/sa/web") in `td`. The path
  // obeys the same rules as in FromString, and the whole ID must still fit
  // in kMaxSpiffeIdLength.
  static absl::StatusOr<SpiffeId> FromParts(const TrustDomain& td,
                                            absl::string_view path);

  const TrustDomain& trust_domain() const { return trust_domain_; }
  // "" or "/a/b".
  const std::string& path() const { return path_; }
  // {"a", "b"} for path "/a/b"; empty for an empty path. The views point into
  // this object and are invalidated when it is destroyed or assigned to.
  std::vector<absl::string_view> segments() const;
  // The canonical form, which is also the only form FromString accepts.
  std::string ToString() const;

  bool MemberOf(const TrustDomain& td) const { return trust_domain_ == td; }

  friend bool operator==(const SpiffeId& a, const SpiffeId& b) {
    return a.trust_domain_ == b.trust_domain_ && a.path_ == b.path_;
  }
  friend bool operator!=(const SpiffeId& a, const SpiffeId& b) {
    return !(a == b);
  }
  // Orders by trust domain, then by path. This can differ from ordering by
  // ToString(), because '-' and '.' sort before '/'.
  friend bool operator<(const SpiffeId& a, const SpiffeId& b) {
    if (a.trust_domain_ != b.trust_domain_) {
      return a.trust_domain_ < b.trust_domain_;
    }
    return a.path_ < b.path_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const SpiffeId& id) {
    return H::combine(std::move(h), id.trust_domain_, id.path_);
  }
  friend std::ostream& operator<<(std::ostream& os, const SpiffeId& id) {
    return os << kSpiffeScheme << id.trust_domain_.name() << id.path_;
  }

 private:
  SpiffeId(TrustDomain td, std::string path)
      : trust_domain_(std::move(td)), path_(std::move(path)) {}

  TrustDomain trust_domain_;
  std::string path_;
};

// A pattern over SPIFFE IDs, such as "spiffe://example.org/ns/*/sa/web" or
// "spiffe://example.org/ns/prod/**".
//
// - The trust domain is literal: a pattern never matches another domain.
// - "*" as a whole segment matches exactly one segment.
// - "**" may only be the last segment and matches ONE OR MORE remaining
//   segments. So "spiffe://example.org/ns/**" matches "/ns/a" and "/ns/a/b"
//   but not "/ns", and "spiffe://example.org/**" matches every ID in the
//   trust domain except the trust domain's own ID (the empty path). One or
//   more, rather than zero or more, so that granting "everything under /ns"
//   never grants "/ns" itself by accident.
// - Wildcards inside a segment ("web-*") are rejected, not treated as
//   literals; any other segment follows the SPIFFE ID segment rules and
//   matches itself exactly.
// - A pattern without wildcards matches exactly the one ID it spells.
class SpiffeIdPattern {
 public:
  static absl::StatusOr<SpiffeIdPattern> FromString(absl::string_view s);

  // Does not allocate.
  bool Matches(const SpiffeId& id) const;

  const TrustDomain& trust_domain() const { return trust_domain_; }
  // The pattern as given (patterns, like IDs, are never normalised).
  std::string ToString() const;

  friend std::ostream& operator<<(std::ostream& os,
                                  const SpiffeIdPattern& pattern) {
    return os << pattern.ToString();
  }

 private:
  enum class SegmentKind { kLiteral, kAnyOne, kOneOrMore };
  // A segment of the pattern's path, located by offsets into path_ rather
  // than by a string_view, so that copies and moves need no fix-up.
  struct Segment {
    SegmentKind kind;
    size_t begin;
    size_t size;
  };

  SpiffeIdPattern(TrustDomain td, std::string path,
                  std::vector<Segment> segments)
      : trust_domain_(std::move(td)),
        path_(std::move(path)),
        segments_(std::move(segments)) {}

  TrustDomain trust_domain_;
  std::string path_;
  std::vector<Segment> segments_;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_SPIFFE_ID_H_
