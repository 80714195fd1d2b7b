// libFuzzer target for identity/spiffe_id: parses arbitrary bytes as a SPIFFE
// ID, a trust domain and a pattern, and abort()s when an invariant that the
// header promises does not hold. Crashes and sanitizer reports are failures
// too, of course.
//
// Input layout: the whole input is tried as each kind of string. It is also
// split at its first '\n' into a pattern (before) and an ID (after), so that
// the fuzzer can evolve matching pairs; Matches() is then checked against a
// deliberately naive reference matcher.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {
namespace {

void Check(bool condition) {
  if (!condition) abort();
}

// Errors must be the documented kind, and the message must stay small even
// for huge inputs (the quoted input is truncated).
void CheckError(const absl::Status& status) {
  Check(status.code() == absl::StatusCode::kInvalidArgument);
  Check(!status.message().empty());
  Check(status.message().size() < 1024);
}

// The header's matching rules, written the slow and obvious way.
bool ReferenceMatches(absl::string_view pattern, const SpiffeId& id) {
  const size_t scheme_and_td =
      kSpiffeScheme.size() + id.trust_domain().name().size();
  absl::string_view pattern_td = pattern.substr(kSpiffeScheme.size());
  pattern_td = pattern_td.substr(0, pattern_td.find('/'));
  if (pattern_td != id.trust_domain().name()) return false;
  const absl::string_view pattern_path = pattern.substr(scheme_and_td);
  if (pattern_path.empty()) return id.path().empty();
  std::vector<absl::string_view> want =
      absl::StrSplit(pattern_path.substr(1), '/');
  std::vector<absl::string_view> have = id.segments();
  const bool rest = want.back() == "**";
  if (rest ? have.size() < want.size() : have.size() != want.size()) {
    return false;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (rest && i + 1 == want.size()) break;
    if (want[i] != "*" && want[i] != have[i]) return false;
  }
  return true;
}

void CheckId(absl::string_view s) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
  if (!id.ok()) {
    CheckError(id.status());
    // Anything that is not an ID is not a wildcard-free pattern either.
    absl::StatusOr<SpiffeIdPattern> p = SpiffeIdPattern::FromString(s);
    Check(!p.ok() || s.find('*') != absl::string_view::npos);
    return;
  }
  const TrustDomain& td = id->trust_domain();
  // Nothing is normalised: the canonical form is the input, and its parts
  // put back together are the input.
  Check(id->ToString() == s);
  Check(absl::StrCat(kSpiffeScheme, td.name(), id->path()) == s);
  Check(s.size() <= kMaxSpiffeIdLength);
  Check(!td.name().empty() && td.name().size() <= kMaxTrustDomainLength);
  Check(td.IdString() == absl::StrCat(kSpiffeScheme, td.name()));
  Check(id->MemberOf(td));

  const std::vector<absl::string_view> segments = id->segments();
  Check(id->path().empty() == segments.empty());
  if (!segments.empty()) {
    Check(absl::StrCat("/", absl::StrJoin(segments, "/")) == id->path());
  }
  for (absl::string_view segment : segments) {
    Check(!segment.empty() && segment != "." && segment != "..");
  }

  absl::StatusOr<SpiffeId> again = SpiffeId::FromString(id->ToString());
  Check(again.ok() && *again == *id && !(*again < *id) && !(*id < *again));
  Check(absl::HashOf(*again) == absl::HashOf(*id));

  absl::StatusOr<SpiffeId> built = SpiffeId::FromParts(td, id->path());
  Check(built.ok() && *built == *id);

  absl::StatusOr<TrustDomain> from_id = TrustDomain::FromString(s);
  Check(from_id.ok() && *from_id == td);
  absl::StatusOr<TrustDomain> from_name = TrustDomain::FromString(td.name());
  Check(from_name.ok() && *from_name == td);
  absl::StatusOr<TrustDomain> from_td_id =
      TrustDomain::FromString(td.IdString());
  Check(from_td_id.ok() && *from_td_id == td);

  // Every ID is a pattern that matches itself.
  absl::StatusOr<SpiffeIdPattern> exact = SpiffeIdPattern::FromString(s);
  Check(exact.ok() && exact->ToString() == s && exact->trust_domain() == td);
  Check(exact->Matches(*id));

  // Wildcarding every segment, or everything after the trust domain, still
  // matches; the trust domain's own ID matches only a path-less ID.
  absl::StatusOr<SpiffeIdPattern> root =
      SpiffeIdPattern::FromString(td.IdString());
  Check(root.ok() && root->Matches(*id) == segments.empty());
  if (!segments.empty()) {
    std::string stars = td.IdString();
    for (size_t i = 0; i < segments.size(); ++i) absl::StrAppend(&stars, "/*");
    absl::StatusOr<SpiffeIdPattern> one_each =
        SpiffeIdPattern::FromString(stars);
    Check(one_each.ok() && one_each->Matches(*id));
    absl::StatusOr<SpiffeIdPattern> all =
        SpiffeIdPattern::FromString(absl::StrCat(td.IdString(), "/**"));
    Check(all.ok() && all->Matches(*id));
  }
}

void CheckTrustDomain(absl::string_view s) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString(s);
  if (!td.ok()) {
    CheckError(td.status());
    return;
  }
  Check(!td->name().empty() && td->name().size() <= kMaxTrustDomainLength);
  if (s.find(":/") == absl::string_view::npos) {
    Check(td->name() == s);
  } else {
    Check(SpiffeId::FromString(s).ok());
  }
}

void CheckPattern(absl::string_view s) {
  absl::StatusOr<SpiffeIdPattern> p = SpiffeIdPattern::FromString(s);
  if (!p.ok()) {
    CheckError(p.status());
    return;
  }
  Check(p->ToString() == s);
  Check(p->trust_domain().IdString().size() <= s.size());
  if (s.find('*') == absl::string_view::npos) {
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(s);
    Check(id.ok() && p->Matches(*id));
  }
}

void CheckPair(absl::string_view pattern, absl::string_view id_string) {
  absl::StatusOr<SpiffeIdPattern> p = SpiffeIdPattern::FromString(pattern);
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(id_string);
  if (!p.ok() || !id.ok()) return;
  const bool matches = p->Matches(*id);
  Check(matches == ReferenceMatches(pattern, *id));
  if (matches) Check(id->MemberOf(p->trust_domain()));
  if (pattern.find('*') == absl::string_view::npos) {
    Check(matches == (pattern == id_string));
  }
}

}  // namespace
}  // namespace mayfly::identity

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  mayfly::identity::CheckId(input);
  mayfly::identity::CheckTrustDomain(input);
  mayfly::identity::CheckPattern(input);
  const size_t newline = input.find('\n');
  if (newline != absl::string_view::npos) {
    mayfly::identity::CheckPair(input.substr(0, newline),
                                input.substr(newline + 1));
  }
  return 0;
}
