// Entry flags checked by the agent's rules, and entries printed. See
// entry_fields.h.
#include "identity/admin/entry_fields.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "identity/agent/selectors.h"
#include "identity/duration.h"
#include "identity/json_util.h"
#include "identity/jwt.h"
#include "identity/spiffe_id.h"

namespace mayfly::admin {
namespace {

using server::v1::Entry;

// exp and iat are whole seconds (RFC 7519 NumericDate).
constexpr absl::Duration kMinJwtTtl = absl::Seconds(1);

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

absl::StatusOr<int64_t> TtlSeconds(absl::string_view flag,
                                   const std::string& text, absl::Duration min,
                                   absl::Duration max) {
  if (text.empty()) return 0;  // the server's default
  absl::StatusOr<absl::Duration> ttl = identity::ParseDuration(text);
  if (!ttl.ok()) return FlagError(flag, ttl.status().message());
  if (*ttl < min || *ttl > max) {
    return FlagError(
        flag, absl::StrCat("must be from ", absl::FormatDuration(min), " to ",
                           absl::FormatDuration(max)));
  }
  if (*ttl != absl::Seconds(absl::ToInt64Seconds(*ttl))) {
    return FlagError(flag, absl::StrCat("\"", text, "\": want whole seconds"));
  }
  return absl::ToInt64Seconds(*ttl);
}

// DNS names by the entries file's own rule: a one-entry document parsed by
// agent::ParseEntries, so both accept exactly the same names.
absl::Status CheckDnsName(const std::string& id, const std::string& selector,
                          const std::string& name) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "entries" << YAML::Value
      << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "spiffe_id"
      << YAML::Value << id << YAML::Key << "selectors" << YAML::Value
      << YAML::Flow << std::vector<std::string>{selector} << YAML::Key
      << "dns_names" << YAML::Value << YAML::Flow
      << std::vector<std::string>{name} << YAML::EndMap << YAML::EndSeq
      << YAML::EndMap;
  absl::Status s = agent::ParseEntries(out.c_str(), "--dns").status();
  if (s.ok()) return s;
  // "--dns:LINE: entries[0].dns_names[0]: MESSAGE" -> "--dns: MESSAGE"
  absl::string_view message = s.message();
  const size_t field = message.find("dns_names[0]: ");
  if (field != absl::string_view::npos) {
    message.remove_prefix(field + sizeof("dns_names[0]: ") - 1);
  }
  return FlagError("dns", message);
}

std::string Ttl(int64_t seconds) {
  return seconds == 0 ? "default"
                      : absl::FormatDuration(absl::Seconds(seconds));
}

std::string JsonList(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::vector<std::string> quoted;
  for (const std::string& s : v) quoted.push_back(identity::JsonQuote(s));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

std::set<std::string> Set(
    const google::protobuf::RepeatedPtrField<std::string>& v) {
  return {v.begin(), v.end()};
}

// A subject in one spelling: parsed and written back, or as is.
std::string NormalSubject(const std::string& text) {
  if (text.empty()) return text;
  absl::StatusOr<agent::SubjectTemplate> parsed =
      agent::ParseSubjectTemplate(text);
  return parsed.ok() ? SubjectText(*parsed) : text;
}

}  // namespace

void EntryFlags::AddTo(cli::FlagSet& flags) {
  flags.String("spiffe-id", &spiffe_id, "The SPIFFE ID the entry gives.");
  flags.String("parent", &parent,
               "The agent SPIFFE ID (or node alias) whose node may serve it.");
  flags.List("selector", &selectors,
             "unix:KIND:VALUE, repeatable; a workload must have them all.");
  flags.String("ttl", &ttl, "X.509-SVID lifetime (empty: server default).");
  flags.String("jwt-ttl", &jwt_ttl,
               "JWT-SVID lifetime, at most 5m (empty: server default).");
  flags.List("dns", &dns, "DNS name for the SVID, repeatable.");
  flags.String("hint", &hint, "A short label for the workload.");
  flags.String("subject", &subject,
               "Subject template, e.g. \"CN={spiffe_id},O=Acme\".");
}

absl::StatusOr<Entry> EntryFlags::ToEntry() const {
  Entry entry;
  if (spiffe_id.empty()) return FlagError("spiffe-id", "required");
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(spiffe_id);
  if (!id.ok()) return FlagError("spiffe-id", id.status().message());
  entry.set_spiffe_id(id->ToString());
  if (parent.empty()) return FlagError("parent", "required");
  if (absl::Status s = identity::SpiffeId::FromString(parent).status();
      !s.ok()) {
    return FlagError("parent", s.message());
  }
  entry.set_parent_id(parent);
  std::vector<std::string> canonical;
  for (const std::string& text : selectors) {
    absl::StatusOr<std::string> selector = agent::CanonicalSelector(text);
    if (!selector.ok())
      return FlagError("selector", selector.status().message());
    canonical.push_back(*std::move(selector));
  }
  if (canonical.empty()) {
    return FlagError("selector",
                     "an entry needs at least one selector (none would match "
                     "every process)");
  }
  std::sort(canonical.begin(), canonical.end());
  canonical.erase(std::unique(canonical.begin(), canonical.end()),
                  canonical.end());
  for (std::string& s : canonical) entry.add_selectors(std::move(s));
  absl::StatusOr<int64_t> ttl_seconds =
      TtlSeconds("ttl", ttl, agent::kMinSvidTtl, agent::kMaxSvidTtl);
  if (!ttl_seconds.ok()) return ttl_seconds.status();
  entry.set_ttl_seconds(*ttl_seconds);
  absl::StatusOr<int64_t> jwt_seconds =
      TtlSeconds("jwt-ttl", jwt_ttl, kMinJwtTtl, identity::kMaxJwtSvidTtl);
  if (!jwt_seconds.ok()) return jwt_seconds.status();
  entry.set_jwt_ttl_seconds(*jwt_seconds);
  for (const std::string& name : dns) {
    if (absl::Status s =
            CheckDnsName(entry.spiffe_id(), entry.selectors(0), name);
        !s.ok()) {
      return s;
    }
    entry.add_dns_names(absl::AsciiStrToLower(name));
  }
  if (hint.size() > agent::kMaxHintLength) {
    return FlagError(
        "hint", absl::StrCat("longer than ", agent::kMaxHintLength, " bytes"));
  }
  entry.set_hint(hint);
  if (!subject.empty()) {
    absl::StatusOr<agent::SubjectTemplate> tmpl =
        agent::ParseSubjectTemplate(subject);
    if (!tmpl.ok()) return FlagError("subject", tmpl.status().message());
    if (absl::Status s = agent::ExpandSubject(*tmpl, *id).status(); !s.ok()) {
      return FlagError("subject", s.message());
    }
    entry.set_subject(SubjectText(*tmpl));
  }
  return entry;
}

Entry EntryFromConfig(const agent::EntryConfig& config,
                      const std::string& parent) {
  Entry entry;
  entry.set_spiffe_id(config.spiffe_id.ToString());
  entry.set_parent_id(parent);
  for (const std::string& s : config.selectors) entry.add_selectors(s);
  entry.set_ttl_seconds(absl::ToInt64Seconds(config.ttl));
  for (const std::string& name : config.dns_names) entry.add_dns_names(name);
  entry.set_hint(config.hint);
  entry.set_subject(SubjectText(config.subject));
  return entry;
}

std::string SubjectText(const agent::SubjectTemplate& subject) {
  std::vector<std::string> parts;
  for (const auto& [attr, value] : subject.attributes) {
    parts.push_back(
        absl::StrCat(attr, "=", absl::StrReplaceAll(value, {{",", "\\,"}})));
  }
  return absl::StrJoin(parts, ",");
}

bool SameContent(const Entry& a, const Entry& b) {
  return a.spiffe_id() == b.spiffe_id() && a.parent_id() == b.parent_id() &&
         Set(a.selectors()) == Set(b.selectors()) &&
         a.ttl_seconds() == b.ttl_seconds() &&
         a.jwt_ttl_seconds() == b.jwt_ttl_seconds() &&
         Set(a.dns_names()) == Set(b.dns_names()) && a.hint() == b.hint() &&
         NormalSubject(a.subject()) == NormalSubject(b.subject());
}

std::string Printable(absl::string_view value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::CHexEscape(value);
    }
  }
  return std::string(value);
}

std::string EntryText(const Entry& e) {
  return absl::StrCat(
      "id: ", Printable(e.id()), "\nspiffe_id: ", Printable(e.spiffe_id()),
      "\nparent_id: ", Printable(e.parent_id()),
      "\nselectors: ", Printable(absl::StrJoin(e.selectors(), ", ")),
      "\nttl: ", Ttl(e.ttl_seconds()), "\njwt_ttl: ", Ttl(e.jwt_ttl_seconds()),
      "\ndns_names: ", Printable(absl::StrJoin(e.dns_names(), ", ")),
      "\nhint: ", Printable(e.hint()), "\nsubject: ", Printable(e.subject()),
      "\nrevision: ", e.revision(), "\n");
}

std::string EntryJson(const Entry& e) {
  using identity::JsonQuote;
  return absl::StrCat("{\"id\":", JsonQuote(e.id()),
                      ",\"spiffe_id\":", JsonQuote(e.spiffe_id()),
                      ",\"parent_id\":", JsonQuote(e.parent_id()),
                      ",\"selectors\":", JsonList(e.selectors()),
                      ",\"ttl_seconds\":", e.ttl_seconds(),
                      ",\"dns_names\":", JsonList(e.dns_names()),
                      ",\"hint\":", JsonQuote(e.hint()),
                      ",\"subject\":", JsonQuote(e.subject()),
                      ",\"revision\":", e.revision(),
                      ",\"jwt_ttl_seconds\":", e.jwt_ttl_seconds(), "}");
}

}  // namespace mayfly::admin
