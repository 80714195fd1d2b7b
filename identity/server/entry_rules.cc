// Entry validation and subject templates (see entry_rules.h for why the
// selector and template grammar are repeated here for now).
#include "identity/server/entry_rules.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "identity/jwt.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

constexpr size_t kMaxDnsLabelLength = 63;

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

const std::set<std::string>& SubjectAttributes() {
  static const auto* kAttrs =
      new std::set<std::string>{"CN", "O", "OU", "C", "L", "ST"};
  return *kAttrs;
}

bool ValidDnsName(absl::string_view name) {
  absl::ConsumePrefix(&name, "*.");
  if (name.empty() || name.size() > kMaxDnsNameLength) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > kMaxDnsLabelLength ||
        label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') return false;
    }
  }
  return true;
}

// "unix:KIND:VALUE", numbers without leading zeros, sha256 lowercase.
absl::StatusOr<std::string> CanonicalSelector(absl::string_view text) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 2));
  if (parts.size() != 3 || parts[0] != "unix" || parts[2].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\": want unix:KIND:VALUE, e.g. unix:uid:1000"));
  }
  const absl::string_view kind = parts[1], value = parts[2];
  static const auto* kNumeric =
      new std::set<absl::string_view>{"uid", "gid", "supplementary_gid"};
  static const auto* kText = new std::set<absl::string_view>{
      "user", "group", "supplementary_group", "path"};
  if (kNumeric->count(kind) > 0) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(value, &n) || !absl::ascii_isdigit(value[0])) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": ", kind, " is a number"));
    }
    return absl::StrCat("unix:", kind, ":", n);
  }
  if (kind == "sha256") {
    if (value.size() != 64 || !absl::c_all_of(value, absl::ascii_isxdigit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": sha256 is 64 hex digits"));
    }
    return absl::StrCat("unix:sha256:", absl::AsciiStrToLower(value));
  }
  if (kText->count(kind) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": unknown kind \"", kind, "\""));
  }
  if (absl::c_any_of(value, [](char c) { return absl::ascii_iscntrl(c); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": control character in value"));
  }
  return std::string(text);
}

struct Template {
  std::vector<std::pair<std::string, std::string>> attributes;
};

absl::StatusOr<Template> ParseTemplate(absl::string_view text) {
  Template out;
  if (text.empty()) return out;
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == ',') {
      parts.back() += ',';
      ++i;
    } else if (text[i] == ',') {
      parts.emplace_back();
    } else {
      parts.back() += text[i];
    }
  }
  for (const std::string& part : parts) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", part, "\": want ATTR=VALUE"));
    }
    std::string attr(absl::StripAsciiWhitespace(part.substr(0, eq)));
    std::string value(absl::StripAsciiWhitespace(part.substr(eq + 1)));
    if (SubjectAttributes().count(attr) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute \"", attr, "\" is not one of ",
                       absl::StrJoin(SubjectAttributes(), ", ")));
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(attr, " is empty"));
    }
    std::string rest = absl::StrReplaceAll(
        value, {{"{spiffe_id}", ""}, {"{trust_domain}", ""}, {"{path}", ""}});
    if (absl::StrContains(rest, "{") || absl::StrContains(rest, "}")) {
      return absl::InvalidArgumentError(absl::StrCat(
          attr, "=\"", value,
          "\": placeholders are {spiffe_id}, {trust_domain} and {path}"));
    }
    out.attributes.emplace_back(std::move(attr), std::move(value));
  }
  return out;
}

}  // namespace

absl::StatusOr<identity::Subject> EntrySubject(const v1::Entry& entry) {
  ASSIGN_OR_RETURN(Template tmpl, ParseTemplate(entry.subject()));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(entry.spiffe_id()));
  identity::Subject out;
  for (const auto& [attr, value] : tmpl.attributes) {
    std::string expanded = absl::StrReplaceAll(
        value, {{"{spiffe_id}", id.ToString()},
                {"{trust_domain}", id.trust_domain().name()},
                {"{path}", id.path()}});
    if (attr == "C" && (expanded.size() != 2 ||
                        !absl::c_all_of(expanded, absl::ascii_isalpha))) {
      return absl::InvalidArgumentError(
          absl::StrCat("C=\"", expanded, "\": a country is two letters"));
    }
    if (expanded.size() > identity::kMaxSubjectValueLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          attr, "=\"", expanded, "\" is ", expanded.size(),
          " bytes; X.520 allows ", identity::kMaxSubjectValueLength));
    }
    out.emplace_back(attr, std::move(expanded));
  }
  return out;
}

absl::Status ValidateEntry(const identity::TrustDomain& td, v1::Entry& entry) {
  for (const auto& [field, value] :
       {std::pair<absl::string_view, const std::string*>{"spiffe_id",
                                                         &entry.spiffe_id()},
        {"parent_id", &entry.parent_id()}}) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(*value);
    if (!id.ok()) return Invalid(field, id.status().message());
    if (!id->MemberOf(td)) {
      return Invalid(
          field,
          absl::StrCat("\"", *value, "\" is not in trust domain ", td.name()));
    }
  }
  if (entry.selectors().empty()) {
    return Invalid("selectors", "at least one selector is required");
  }
  if (entry.selectors_size() > kMaxSelectorsPerEntry) {
    return Invalid("selectors",
                   absl::StrCat("at most ", kMaxSelectorsPerEntry));
  }
  std::set<std::string> selectors;
  for (int i = 0; i < entry.selectors_size(); ++i) {
    const std::string field = absl::StrCat("selectors[", i, "]");
    if (entry.selectors(i).size() > kMaxSelectorLength) {
      return Invalid(field, absl::StrCat("longer than ", kMaxSelectorLength));
    }
    absl::StatusOr<std::string> s = CanonicalSelector(entry.selectors(i));
    if (!s.ok()) return Invalid(field, s.status().message());
    selectors.insert(*std::move(s));
  }
  entry.clear_selectors();
  for (const std::string& s : selectors) entry.add_selectors(s);
  if (entry.ttl_seconds() != 0 &&
      (entry.ttl_seconds() < absl::ToInt64Seconds(kMinSvidTtl) ||
       entry.ttl_seconds() > absl::ToInt64Seconds(kMaxSvidTtl))) {
    return Invalid("ttl_seconds",
                   absl::StrCat(entry.ttl_seconds(), " is outside ",
                                absl::ToInt64Seconds(kMinSvidTtl), "..",
                                absl::ToInt64Seconds(kMaxSvidTtl)));
  }
  if (entry.jwt_ttl_seconds() < 0 ||
      entry.jwt_ttl_seconds() >
          absl::ToInt64Seconds(identity::kMaxJwtSvidTtl)) {
    return Invalid(
        "jwt_ttl_seconds",
        absl::StrCat(entry.jwt_ttl_seconds(), " is outside 0..",
                     absl::ToInt64Seconds(identity::kMaxJwtSvidTtl)));
  }
  if (entry.dns_names_size() > kMaxDnsNamesPerEntry) {
    return Invalid("dns_names", absl::StrCat("at most ", kMaxDnsNamesPerEntry));
  }
  for (int i = 0; i < entry.dns_names_size(); ++i) {
    if (!ValidDnsName(entry.dns_names(i))) {
      return Invalid(
          absl::StrCat("dns_names[", i, "]"),
          absl::StrCat("\"", entry.dns_names(i), "\" is not a DNS name"));
    }
  }
  if (entry.hint().size() > kMaxHintLength) {
    return Invalid("hint", absl::StrCat("longer than ", kMaxHintLength));
  }
  if (entry.subject().size() > kMaxSubjectTemplateLength) {
    return Invalid("subject",
                   absl::StrCat("longer than ", kMaxSubjectTemplateLength));
  }
  // Expanding with this entry's ID catches length limits now, not at mint.
  if (auto subject = EntrySubject(entry); !subject.ok()) {
    return Invalid("subject", subject.status().message());
  }
  return absl::OkStatus();
}

}  // namespace mayfly::server
