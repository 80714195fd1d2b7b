// Registration entries and subject templates from YAML: see config.h.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "identity/agent/config.h"
#include "identity/agent/internal/entry_list.h"
#include "identity/agent/selectors.h"
#include "identity/status_macros.h"
#include "identity/yaml_reader.h"

namespace mayfly::agent {
namespace {

using identity::YamlReader;

constexpr size_t kMaxDnsLabelLength = 63;

const std::set<std::string>& SubjectAttributes() {
  static const auto* kAttrs =
      new std::set<std::string>{"CN", "O", "OU", "C", "L", "ST"};
  return *kAttrs;
}

}  // namespace

bool IsValidDnsName(absl::string_view name) {
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

namespace {

absl::StatusOr<EntryConfig> ParseEntry(const YamlReader& r,
                                       const YAML::Node& node,
                                       const std::string& field) {
  RETURN_IF_ERROR(r.CheckKeys(
      node, field,
      {"spiffe_id", "selectors", "ttl", "dns_names", "hint", "subject"}));
  if (!node["spiffe_id"]) return r.Error(node, field, "spiffe_id is required");
  ASSIGN_OR_RETURN(std::string id_text,
                   r.String(node["spiffe_id"], field + ".spiffe_id"));
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(id_text);
  if (!id.ok()) {
    return r.Error(node["spiffe_id"], field + ".spiffe_id",
                   id.status().message());
  }
  EntryConfig entry{*std::move(id)};
  entry.source = r.At(node);

  if (!node["selectors"]) return r.Error(node, field, "selectors is required");
  ASSIGN_OR_RETURN(auto selectors,
                   r.Strings(node["selectors"], field + ".selectors"));
  for (size_t i = 0; i < selectors.size(); ++i) {
    absl::StatusOr<std::string> canonical =
        CanonicalSelector(selectors[i].second);
    if (!canonical.ok()) {
      return r.Error(selectors[i].first,
                     absl::StrCat(field, ".selectors[", i, "]"),
                     canonical.status().message());
    }
    entry.selectors.push_back(*std::move(canonical));
  }
  if (entry.selectors.empty()) {
    return r.Error(node["selectors"], field + ".selectors",
                   "an entry needs at least one selector (an empty list "
                   "would match every process)");
  }
  absl::c_sort(entry.selectors);
  entry.selectors.erase(
      std::unique(entry.selectors.begin(), entry.selectors.end()),
      entry.selectors.end());

  if (node["ttl"]) {
    ASSIGN_OR_RETURN(entry.ttl, r.Duration(node["ttl"], field + ".ttl"));
    if (entry.ttl < kMinSvidTtl || entry.ttl > kMaxSvidTtl) {
      return r.Error(
          node["ttl"], field + ".ttl",
          absl::StrCat("must be from ", absl::FormatDuration(kMinSvidTtl),
                       " to ", absl::FormatDuration(kMaxSvidTtl)));
    }
  }
  if (node["dns_names"]) {
    ASSIGN_OR_RETURN(auto names,
                     r.Strings(node["dns_names"], field + ".dns_names"));
    for (size_t i = 0; i < names.size(); ++i) {
      if (!IsValidDnsName(names[i].second)) {
        return r.Error(
            names[i].first, absl::StrCat(field, ".dns_names[", i, "]"),
            absl::StrCat("\"", names[i].second, "\" is not a DNS name"));
      }
      entry.dns_names.push_back(absl::AsciiStrToLower(names[i].second));
    }
  }
  if (node["hint"]) {
    ASSIGN_OR_RETURN(entry.hint, r.String(node["hint"], field + ".hint"));
    if (entry.hint.size() > kMaxHintLength) {
      return r.Error(node["hint"], field + ".hint",
                     absl::StrCat("longer than ", kMaxHintLength, " bytes"));
    }
  }
  if (node["subject"]) {
    ASSIGN_OR_RETURN(std::string text,
                     r.String(node["subject"], field + ".subject"));
    absl::StatusOr<SubjectTemplate> subject = ParseSubjectTemplate(text);
    if (!subject.ok()) {
      return r.Error(node["subject"], field + ".subject",
                     subject.status().message());
    }
    // Expanding with this entry's ID catches length limits now, not at mint.
    if (auto expanded = ExpandSubject(*subject, entry.spiffe_id);
        !expanded.ok()) {
      return r.Error(node["subject"], field + ".subject",
                     expanded.status().message());
    }
    entry.subject = *std::move(subject);
  }
  return entry;
}

}  // namespace

namespace internal {

absl::StatusOr<std::vector<EntryConfig>> ParseEntryList(
    const YamlReader& r, const YAML::Node& node) {
  if (!node.IsSequence()) return r.Error(node, "entries", "want a list");
  std::vector<EntryConfig> entries;
  std::map<std::string, std::string> seen;  // id + selectors -> source
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(EntryConfig entry,
                     ParseEntry(r, node[i], absl::StrCat("entries[", i, "]")));
    const std::string key = absl::StrCat(entry.spiffe_id.ToString(), "\n",
                                         absl::StrJoin(entry.selectors, "\n"));
    auto [it, inserted] = seen.emplace(key, entry.source);
    if (!inserted) {
      return r.Error(node[i], absl::StrCat("entries[", i, "]"),
                     absl::StrCat("same spiffe_id and selectors as the entry "
                                  "at ",
                                  it->second));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace internal

absl::StatusOr<SubjectTemplate> ParseSubjectTemplate(absl::string_view text) {
  SubjectTemplate out;
  // Split on commas not escaped as "\,".
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
    // Only the three known placeholders may appear in braces.
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

absl::StatusOr<identity::Subject> ExpandSubject(const SubjectTemplate& tmpl,
                                                const identity::SpiffeId& id) {
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

}  // namespace mayfly::agent
