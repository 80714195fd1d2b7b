// YAML config parsing with file:line:field errors: see config.h.
#include "identity/agent/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "identity/agent/selectors.h"
#include "identity/duration.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// sockaddr_un.sun_path is 108 bytes on Linux, NUL included.
constexpr size_t kMaxSocketPath = 107;
constexpr size_t kMaxDnsLabelLength = 63;

const std::set<std::string>& SubjectAttributes() {
  static const auto* kAttrs =
      new std::set<std::string>{"CN", "O", "OU", "C", "L", "ST"};
  return *kAttrs;
}

// Errors point at a node: "SOURCE:LINE: FIELD: message".
class Reader {
 public:
  explicit Reader(absl::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, absl::string_view field,
                     absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(At(node), ": ", field, ": ", message));
  }
  std::string At(const YAML::Node& node) const {
    return absl::StrCat(source_, ":", node.Mark().line + 1);
  }

  absl::StatusOr<std::string> String(const YAML::Node& node,
                                     absl::string_view field) const {
    if (!node.IsScalar()) return Error(node, field, "want a string");
    return node.Scalar();
  }
  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node,
                                          absl::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    absl::StatusOr<absl::Duration> d = identity::ParseDuration(text);
    if (!d.ok()) return Error(node, field, d.status().message());
    return *d;
  }
  absl::StatusOr<int64_t> Integer(const YAML::Node& node,
                                  absl::string_view field, int64_t min,
                                  int64_t max) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    int64_t v = 0;
    if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
      return Error(node, field,
                   absl::StrCat("\"", text, "\": want a whole number from ",
                                min, " to ", max));
    }
    return v;
  }
  absl::StatusOr<double> Rate(const YAML::Node& node,
                              absl::string_view field) const {
    ASSIGN_OR_RETURN(std::string text, String(node, field));
    double v = 0;
    if (!absl::SimpleAtod(text, &v) || !(v > 0)) {
      return Error(node, field, "want a number above 0");
    }
    return v;
  }
  absl::StatusOr<std::vector<std::pair<YAML::Node, std::string>>> Strings(
      const YAML::Node& node, absl::string_view field) const {
    if (!node.IsSequence()) return Error(node, field, "want a list");
    std::vector<std::pair<YAML::Node, std::string>> out;
    for (size_t i = 0; i < node.size(); ++i) {
      ASSIGN_OR_RETURN(std::string s,
                       String(node[i], absl::StrCat(field, "[", i, "]")));
      out.emplace_back(node[i], std::move(s));
    }
    return out;
  }
  // The map's keys, each checked against `known`.
  absl::Status CheckKeys(const YAML::Node& map, absl::string_view field,
                         const std::set<std::string>& known) const {
    if (!map.IsMap()) return Error(map, field, "want a map of keys");
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (known.count(key) == 0) {
        return Error(
            it->first, field.empty() ? key : absl::StrCat(field, ".", key),
            absl::StrCat("unknown key (known: ", absl::StrJoin(known, ", "),
                         ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string source_;
};

absl::StatusOr<YAML::Node> LoadYaml(absl::string_view text,
                                    absl::string_view source) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
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

absl::StatusOr<EntryConfig> ParseEntry(const Reader& r, const YAML::Node& node,
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
      if (!ValidDnsName(names[i].second)) {
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

absl::StatusOr<std::vector<EntryConfig>> ParseEntryList(
    const Reader& r, const YAML::Node& node) {
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

std::string JoinPath(absl::string_view dir, absl::string_view path) {
  if (absl::StartsWith(path, "/") || dir.empty()) return std::string(path);
  return absl::StrCat(dir, "/", path);
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

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
    if (expanded.size() > kMaxSubjectValueLength) {
      return absl::InvalidArgumentError(
          absl::StrCat(attr, "=\"", expanded, "\" is ", expanded.size(),
                       " bytes; X.520 allows ", kMaxSubjectValueLength));
    }
    out.emplace_back(attr, std::move(expanded));
  }
  return out;
}

absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml,
                                             absl::string_view source_name,
                                             absl::string_view base_dir) {
  const Reader r(source_name);
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml, source_name));
  RETURN_IF_ERROR(
      r.CheckKeys(root, "",
                  {"trust_domain", "socket_path", "state_dir", "default_ttl",
                   "intermediate_ttl", "root_rotation_lead", "entries",
                   "entries_file", "metrics_address", "log_level", "limits"}));
  for (const char* key : {"trust_domain", "socket_path", "state_dir"}) {
    if (!root[key]) return r.Error(root, key, "required");
  }
  ASSIGN_OR_RETURN(std::string td_text,
                   r.String(root["trust_domain"], "trust_domain"));
  absl::StatusOr<identity::TrustDomain> td =
      identity::TrustDomain::FromString(td_text);
  if (!td.ok()) {
    return r.Error(root["trust_domain"], "trust_domain", td.status().message());
  }
  AgentConfig config{*std::move(td)};

  ASSIGN_OR_RETURN(config.socket_path,
                   r.String(root["socket_path"], "socket_path"));
  if (!absl::StartsWith(config.socket_path, "/") ||
      config.socket_path.size() > kMaxSocketPath) {
    return r.Error(
        root["socket_path"], "socket_path",
        absl::StrCat("must be an absolute path of at most ", kMaxSocketPath,
                     " bytes (the Unix socket address limit)"));
  }
  ASSIGN_OR_RETURN(config.state_dir, r.String(root["state_dir"], "state_dir"));
  if (!absl::StartsWith(config.state_dir, "/")) {
    return r.Error(root["state_dir"], "state_dir", "must be an absolute path");
  }
  for (auto [key, target] :
       {std::pair{"default_ttl", &config.default_ttl},
        std::pair{"intermediate_ttl", &config.intermediate_ttl},
        std::pair{"root_rotation_lead", &config.root_rotation_lead}}) {
    if (!root[key]) continue;
    ASSIGN_OR_RETURN(*target, r.Duration(root[key], key));
  }
  if (config.default_ttl < kMinSvidTtl || config.default_ttl > kMaxSvidTtl) {
    return r.Error(
        root["default_ttl"] ? root["default_ttl"] : root, "default_ttl",
        absl::StrCat("must be from ", absl::FormatDuration(kMinSvidTtl), " to ",
                     absl::FormatDuration(kMaxSvidTtl)));
  }

  const bool inline_entries = static_cast<bool>(root["entries"]);
  const bool file_entries = static_cast<bool>(root["entries_file"]);
  if (inline_entries == file_entries) {
    return r.Error(root, inline_entries ? "entries_file" : "entries",
                   "give exactly one of entries and entries_file");
  }
  if (inline_entries) {
    ASSIGN_OR_RETURN(config.entries, ParseEntryList(r, root["entries"]));
    for (size_t i = 0; i < config.entries.size(); ++i) {
      if (!config.entries[i].spiffe_id.MemberOf(config.trust_domain)) {
        return r.Error(root["entries"][i]["spiffe_id"],
                       absl::StrCat("entries[", i, "].spiffe_id"),
                       absl::StrCat("not in trust domain \"",
                                    config.trust_domain.name(), "\""));
      }
    }
  } else {
    ASSIGN_OR_RETURN(std::string path,
                     r.String(root["entries_file"], "entries_file"));
    if (path.empty()) {
      return r.Error(root["entries_file"], "entries_file", "empty path");
    }
    config.entries_file = JoinPath(base_dir, path);
  }

  // The intermediate must outlive what it signs (kIntermediateToSvidTtlRatio).
  absl::Duration longest = config.default_ttl;
  for (const EntryConfig& e : config.entries)
    longest = std::max(longest, e.ttl);
  if (config.intermediate_ttl < longest * kIntermediateToSvidTtlRatio) {
    return r.Error(
        root["intermediate_ttl"] ? root["intermediate_ttl"] : root,
        "intermediate_ttl",
        absl::StrCat("must be at least ", kIntermediateToSvidTtlRatio,
                     "x the longest SVID TTL (", absl::FormatDuration(longest),
                     ")"));
  }

  if (root["metrics_address"]) {
    ASSIGN_OR_RETURN(config.metrics_address,
                     r.String(root["metrics_address"], "metrics_address"));
    const size_t colon = config.metrics_address.rfind(':');
    int port = -1;
    if (!config.metrics_address.empty() &&
        (colon == std::string::npos ||
         !absl::StartsWith(config.metrics_address, "127.") ||
         !absl::SimpleAtoi(config.metrics_address.substr(colon + 1), &port) ||
         port < 0 || port > 65535)) {
      return r.Error(root["metrics_address"], "metrics_address",
                     "want 127.x.x.x:PORT (metrics are served on loopback "
                     "only)");
    }
  }
  if (root["log_level"]) {
    ASSIGN_OR_RETURN(config.log_level,
                     r.String(root["log_level"], "log_level"));
    if (!absl::c_linear_search(
            std::vector<std::string>{"debug", "info", "warn", "error"},
            config.log_level)) {
      return r.Error(root["log_level"], "log_level",
                     "want debug, info, warn or error");
    }
  }
  if (const YAML::Node limits = root["limits"]) {
    RETURN_IF_ERROR(r.CheckKeys(
        limits, "limits",
        {"max_connections", "max_streams_per_caller",
         "requests_per_second_per_caller", "request_burst", "max_request_bytes",
         "max_response_bytes", "max_hash_bytes"}));
    AgentLimits& l = config.limits;
    for (auto [key, target, max] :
         {std::tuple{"max_connections", &l.max_connections, 1 << 20},
          std::tuple{"max_streams_per_caller", &l.max_streams_per_caller,
                     1 << 20},
          std::tuple{"request_burst", &l.request_burst, 1 << 20},
          std::tuple{"max_request_bytes", &l.max_request_bytes, 64 << 20},
          std::tuple{"max_response_bytes", &l.max_response_bytes, 256 << 20}}) {
      if (!limits[key]) continue;
      ASSIGN_OR_RETURN(
          int64_t v,
          r.Integer(limits[key], absl::StrCat("limits.", key), 1, max));
      *target = static_cast<int>(v);
    }
    if (limits["requests_per_second_per_caller"]) {
      ASSIGN_OR_RETURN(l.requests_per_second_per_caller,
                       r.Rate(limits["requests_per_second_per_caller"],
                              "limits.requests_per_second_per_caller"));
    }
    if (limits["max_hash_bytes"]) {
      ASSIGN_OR_RETURN(l.max_hash_bytes,
                       r.Integer(limits["max_hash_bytes"],
                                 "limits.max_hash_bytes", 0, int64_t{1} << 40));
    }
  }
  return config;
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path) {
  absl::StatusOr<std::string> text = identity::ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", text.status().message()));
  }
  return ParseAgentConfig(*text, path, DirOf(path));
}

absl::StatusOr<std::vector<EntryConfig>> ParseEntries(
    absl::string_view yaml, absl::string_view source_name) {
  const Reader r(source_name);
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml, source_name));
  RETURN_IF_ERROR(r.CheckKeys(root, "", {"entries"}));
  if (!root["entries"]) return r.Error(root, "entries", "required");
  return ParseEntryList(r, root["entries"]);
}

absl::StatusOr<std::vector<EntryConfig>> LoadEntries(const std::string& path) {
  absl::StatusOr<std::string> text = identity::ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", text.status().message()));
  }
  return ParseEntries(*text, path);
}

absl::Status CheckEntriesInTrustDomain(
    const std::vector<EntryConfig>& entries,
    const identity::TrustDomain& trust_domain) {
  for (const EntryConfig& e : entries) {
    if (!e.spiffe_id.MemberOf(trust_domain)) {
      return absl::FailedPreconditionError(absl::StrCat(
          e.source, ": spiffe_id: ", e.spiffe_id.ToString(),
          " is not in trust domain \"", trust_domain.name(), "\""));
    }
  }
  return absl::OkStatus();
}

std::string DefaultAgentConfigYaml(uint32_t uid, const std::string& runtime_dir,
                                   const std::string& state_dir) {
  return absl::StrCat(
      "# mayfly-agent's embedded default config (mayfly-agent "
      "--print-default-config).\n"
      "trust_domain: example.org\n"
      "socket_path: ",
      runtime_dir, "/public/api.sock\n", "state_dir: ", state_dir, "\n",
      "default_ttl: 5m\n"
      "intermediate_ttl: 1h\n"
      "entries:\n"
      "  - spiffe_id: spiffe://example.org/user/",
      uid,
      "\n"
      "    selectors: [\"unix:uid:",
      uid, "\"]\n");
}

}  // namespace mayfly::agent
