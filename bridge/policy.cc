// The policy file: loading, load-time checks, mapping and ownership. See
// policy.h; the rule pieces are in policy_rule.h, the grants in
// policy_acls.h.
#include "bridge/policy.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/policy_acls.h"
#include "bridge/policy_rule.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"
#include "identity/yaml_reader.h"

namespace mayfly::bridge {
namespace {

using identity::YamlReader;

// What `unmapped: anonymous` maps to: Kafka's own name for a client it
// could not identify (KafkaPrincipal.ANONYMOUS).
constexpr absl::string_view kAnonymous = "User:ANONYMOUS";

}  // namespace

namespace internal {

struct CompiledRule {
  RulePattern pattern;
  PrincipalTemplate principal;
};

// What a loaded policy holds. Not Policy::Impl itself, which is private to
// Policy, so that the loading functions below can fill it in.
struct PolicyState {
  std::vector<identity::TrustDomain> trust_domains;
  std::vector<identity::SpiffeIdPattern> brokers;
  std::vector<PrincipalRule> rules;
  std::vector<CompiledRule> compiled;  // parallel to `rules`
  bool unmapped_anonymous = false;
  std::vector<std::string> super_users;
  std::vector<AclBinding> acls;

  bool Owns(absl::string_view principal) const {
    if (unmapped_anonymous && principal == kAnonymous) return true;
    for (const CompiledRule& rule : compiled) {
      if (rule.principal.CanProduce(principal)) return true;
    }
    return false;
  }
};

}  // namespace internal

struct Policy::Impl : internal::PolicyState {
  std::string sha256;  // of the bytes parsed; see Policy::sha256()
};

namespace {

// Lower-case hex SHA-256 of `bytes`. EVP_Digest with SHA-256 cannot fail
// short of a broken OpenSSL, which is not worth a Status here.
std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(),
                 nullptr) != 1) {
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), size));
}

using internal::CompiledRule;
using internal::PolicyState;

absl::Status ParseTrustDomains(const YamlReader& r, const YAML::Node& node,
                               PolicyState& impl) {
  ASSIGN_OR_RETURN(auto names, r.Strings(node, "trust_domains"));
  if (names.empty()) {
    return r.Error(node, "trust_domains", "list at least one trust domain");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string field = absl::StrCat("trust_domains[", i, "]");
    const auto& [item, name] = names[i];
    if (name.find(":/") != std::string::npos) {
      return r.Error(item, field,
                     absl::StrCat("\"", name,
                                  "\": want a bare name (prod.acme), not an "
                                  "ID"));
    }
    absl::StatusOr<identity::TrustDomain> td =
        identity::TrustDomain::FromString(name);
    if (!td.ok()) return r.Error(item, field, td.status().message());
    for (const identity::TrustDomain& earlier : impl.trust_domains) {
      if (earlier == *td) {
        return r.Error(item, field, absl::StrCat(name, " is listed twice"));
      }
    }
    impl.trust_domains.push_back(*std::move(td));
  }
  return absl::OkStatus();
}

bool Listed(const PolicyState& impl, const identity::TrustDomain& td) {
  for (const identity::TrustDomain& listed : impl.trust_domains) {
    if (listed == td) return true;
  }
  return false;
}

absl::Status ParseBrokers(const YamlReader& r, const YAML::Node& node,
                          PolicyState& impl) {
  ASSIGN_OR_RETURN(auto patterns, r.Strings(node, "brokers"));
  if (patterns.empty()) {
    return r.Error(node, "brokers",
                   "list at least one SPIFFE ID (pattern) of the brokers");
  }
  for (size_t i = 0; i < patterns.size(); ++i) {
    const std::string field = absl::StrCat("brokers[", i, "]");
    const auto& [item, text] = patterns[i];
    absl::StatusOr<identity::SpiffeIdPattern> pattern =
        identity::SpiffeIdPattern::FromString(text);
    if (!pattern.ok()) return r.Error(item, field, pattern.status().message());
    if (!Listed(impl, pattern->trust_domain())) {
      return r.Error(
          item, field,
          absl::StrCat("trust domain ", pattern->trust_domain().name(),
                       " is not in trust_domains"));
    }
    for (const identity::SpiffeIdPattern& earlier : impl.brokers) {
      if (earlier.ToString() == pattern->ToString()) {
        return r.Error(item, field, absl::StrCat(text, " is listed twice"));
      }
    }
    impl.brokers.push_back(*std::move(pattern));
  }
  return absl::OkStatus();
}

absl::Status ParseRule(const YamlReader& r, const YAML::Node& node,
                       const std::string& field, PolicyState& impl) {
  RETURN_IF_ERROR(r.CheckKeys(node, field, {"id", "principal"}));
  for (const char* key : {"id", "principal"}) {
    if (!node[key]) {
      return r.Error(node, field, absl::StrCat(key, " is required"));
    }
  }
  PrincipalRule rule;
  rule.source = r.At(node);
  ASSIGN_OR_RETURN(rule.id_pattern, r.String(node["id"], field + ".id"));
  absl::StatusOr<internal::RulePattern> pattern =
      internal::RulePattern::Parse(rule.id_pattern);
  if (!pattern.ok()) {
    return r.Error(node["id"], field + ".id", pattern.status().message());
  }
  const identity::TrustDomain& td = pattern->matcher().trust_domain();
  if (!Listed(impl, td)) {
    return r.Error(
        node["id"], field + ".id",
        absl::StrCat("trust domain ", td.name(), " is not in trust_domains"));
  }
  for (size_t i = 0; i < impl.compiled.size(); ++i) {
    if (impl.compiled[i].pattern.Subsumes(*pattern)) {
      return r.Error(
          node["id"], field + ".id",
          absl::StrCat("unreachable: the rule at ", impl.rules[i].source,
                       " (principals[", i, "], ", impl.rules[i].id_pattern,
                       ") matches every ID this one matches, and the first "
                       "match wins"));
    }
  }
  ASSIGN_OR_RETURN(rule.principal_template,
                   r.String(node["principal"], field + ".principal"));
  absl::StatusOr<internal::PrincipalTemplate> principal =
      internal::PrincipalTemplate::Parse(rule.principal_template, *pattern);
  if (!principal.ok()) {
    return r.Error(node["principal"], field + ".principal",
                   principal.status().message());
  }
  rule.captures = pattern->CaptureNames();
  impl.rules.push_back(std::move(rule));
  impl.compiled.push_back(
      CompiledRule{*std::move(pattern), *std::move(principal)});
  return absl::OkStatus();
}

absl::Status ParseTop(const YamlReader& r, const YAML::Node& root,
                      PolicyState& impl) {
  if (!root.IsMap()) {
    return r.Error(root, "policy",
                   "want a map with trust_domains, brokers, principals, "
                   "unmapped, super_users and acls");
  }
  RETURN_IF_ERROR(r.CheckKeys(root, "",
                              {"trust_domains", "brokers", "principals",
                               "unmapped", "super_users", "acls"}));
  for (const char* key : {"trust_domains", "principals"}) {
    if (!root[key]) {
      return r.Error(root, key, "required");
    }
  }
  RETURN_IF_ERROR(ParseTrustDomains(r, root["trust_domains"], impl));
  if (root["brokers"]) {
    RETURN_IF_ERROR(ParseBrokers(r, root["brokers"], impl));
  }

  const YAML::Node principals = root["principals"];
  if (!principals.IsSequence()) {
    return r.Error(principals, "principals", "want a list");
  }
  for (size_t i = 0; i < principals.size(); ++i) {
    RETURN_IF_ERROR(
        ParseRule(r, principals[i], absl::StrCat("principals[", i, "]"), impl));
  }

  if (root["unmapped"]) {
    ASSIGN_OR_RETURN(std::string unmapped,
                     r.String(root["unmapped"], "unmapped"));
    if (unmapped != "deny" && unmapped != "anonymous") {
      return r.Error(root["unmapped"], "unmapped",
                     absl::StrCat("\"", unmapped,
                                  "\": want deny (the default) or anonymous"));
    }
    impl.unmapped_anonymous = unmapped == "anonymous";
  }

  if (root["super_users"]) {
    ASSIGN_OR_RETURN(auto users, r.Strings(root["super_users"], "super_users"));
    for (size_t i = 0; i < users.size(); ++i) {
      const std::string field = absl::StrCat("super_users[", i, "]");
      const auto& [item, user] = users[i];
      if (absl::Status s = internal::CheckPrincipal(user); !s.ok()) {
        return r.Error(item, field, s.message());
      }
      // Kafka's super.users is one string split at ';'.
      if (user.find(';') != std::string::npos) {
        return r.Error(item, field,
                       "';' separates super.users in Kafka's config");
      }
      impl.super_users.push_back(user);
    }
  }

  if (root["acls"]) {
    ASSIGN_OR_RETURN(
        impl.acls,
        internal::ParseAcls(r, root["acls"], [&impl](absl::string_view p) {
          return impl.Owns(p);
        }));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view DenialName(Denial denial) {
  switch (denial) {
    case Denial::kInvalidId:
      return "invalid_id";
    case Denial::kForeignTrustDomain:
      return "foreign_trust_domain";
    case Denial::kUnmapped:
      return "unmapped";
  }
  return "unmapped";
}

absl::StatusOr<Policy> Policy::Parse(absl::string_view yaml,
                                     absl::string_view source) {
  ASSIGN_OR_RETURN(YAML::Node root, identity::LoadYaml(yaml, source));
  auto impl = std::make_shared<Impl>();
  RETURN_IF_ERROR(ParseTop(YamlReader(source), root, *impl));
  impl->sha256 = Sha256Hex(yaml);
  return Policy(std::move(impl));
}

absl::StatusOr<Policy> Policy::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, identity::ReadFile(path));
  return Parse(text, path);
}

MapResult Policy::Map(absl::string_view spiffe_id) const {
  MapResult result;
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(spiffe_id);
  if (!id.ok()) {
    result.denial = Denial::kInvalidId;
    result.detail = std::string(id.status().message());
    return result;
  }
  if (!Listed(*impl_, id->trust_domain())) {
    std::vector<absl::string_view> names;
    for (const identity::TrustDomain& td : impl_->trust_domains) {
      names.push_back(td.name());
    }
    result.denial = Denial::kForeignTrustDomain;
    result.detail = absl::StrCat("trust domain ", id->trust_domain().name(),
                                 " is not one of the policy's (",
                                 absl::StrJoin(names, ", "), ")");
    return result;
  }
  for (size_t i = 0; i < impl_->compiled.size(); ++i) {
    const CompiledRule& rule = impl_->compiled[i];
    if (!rule.pattern.matcher().Matches(*id)) continue;
    result.principal = rule.principal.Expand(id->segments());
    result.detail =
        absl::StrCat("principals[", i, "] at ", impl_->rules[i].source, ": ",
                     impl_->rules[i].id_pattern);
    return result;
  }
  if (impl_->unmapped_anonymous) {
    result.principal = std::string(kAnonymous);
    result.detail = "no rule matches; unmapped: anonymous";
    return result;
  }
  result.denial = Denial::kUnmapped;
  result.detail = "no rule matches, and unmapped is deny";
  return result;
}

bool Policy::Owns(absl::string_view principal) const {
  return impl_->Owns(principal);
}

const std::vector<identity::TrustDomain>& Policy::trust_domains() const {
  return impl_->trust_domains;
}
const std::vector<identity::SpiffeIdPattern>& Policy::brokers() const {
  return impl_->brokers;
}

bool Policy::IsBroker(const identity::SpiffeId& id) const {
  for (const identity::SpiffeIdPattern& pattern : impl_->brokers) {
    if (pattern.Matches(id)) return true;
  }
  return false;
}

absl::Status Policy::RequireBrokers(absl::string_view command) const {
  if (!impl_->brokers.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "brokers: required by ", command,
      ": list the SPIFFE IDs the brokers present, like brokers: "
      "[spiffe://",
      impl_->trust_domains.front().name(),
      "/kafka/*] (every SVID may serve TLS, so without it any workload "
      "could pose as a broker)"));
}

const std::vector<PrincipalRule>& Policy::rules() const { return impl_->rules; }
const std::vector<std::string>& Policy::super_users() const {
  return impl_->super_users;
}
const std::vector<AclBinding>& Policy::acls() const { return impl_->acls; }

const std::string& Policy::sha256() const { return impl_->sha256; }

}  // namespace mayfly::bridge
