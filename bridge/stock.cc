// Stock-mode rendering: broker properties and entry subjects. See stock.h.
#include "bridge/stock.h"

#include <yaml-cpp/yaml.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "bridge/properties_text.h"
#include "identity/spiffe_id.h"
#include "identity/status_macros.h"
#include "identity/yaml_reader.h"

namespace mayfly::bridge {
namespace {

// The stock principal builder's only principal type.
constexpr absl::string_view kUserPrefix = "User:";

bool IsStockNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

// Whether `subject` (an entry's template) would carry the marker once the
// agent fills in the entry's ID. Deliberately broad: any mention of the
// marker counts, so a subject that might match the broker's rule is never
// left on an entry that must not match it.
bool CarriesMarker(absl::string_view subject, absl::string_view spiffe_id) {
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(spiffe_id);
  std::string expanded(subject);
  if (id.ok()) {
    expanded = absl::StrReplaceAll(
        subject, {{"{spiffe_id}", id->ToString()},
                  {"{trust_domain}", id->trust_domain().name()},
                  {"{path}", id->path()}});
  }
  return absl::StrContains(expanded, kStockMarker);
}

}  // namespace

absl::StatusOr<std::string> StockSubject(absl::string_view principal) {
  absl::string_view name = principal;
  if (!absl::ConsumePrefix(&name, kUserPrefix)) {
    return absl::FailedPreconditionError(
        absl::StrCat(principal, ": a stock broker makes User principals only"));
  }
  if (name.empty() || name.size() > kMaxStockNameLength) {
    return absl::FailedPreconditionError(
        absl::StrCat(principal, ": the name is ", name.size(),
                     " characters; a CN holds 1 to ", kMaxStockNameLength));
  }
  for (char c : name) {
    if (!IsStockNameChar(c)) {
      return absl::FailedPreconditionError(absl::StrCat(
          principal, ": '", absl::CHexEscape(absl::string_view(&c, 1)),
          "' is not one of [A-Za-z0-9._-], the characters a stock name may "
          "have"));
    }
  }
  // Encoded in this order; RFC 2253 prints it "CN=NAME,OU=marker".
  return absl::StrCat("OU=", kStockMarker, ",CN=", name);
}

std::string RenderStockProperties(const Policy& policy,
                                  const StockOptions& options) {
  const std::string ssl =
      options.listener.empty()
          ? "ssl."
          : absl::StrCat("listener.name.",
                         absl::AsciiStrToLower(options.listener), ".ssl.");
  std::string dir(absl::StripSuffix(options.svid_dir, "/"));
  std::string out = absl::StrCat(
      "# Kafka broker properties for stock mode (no Mayfly plugin), from\n",
      "# the policy ", PropertiesComment(options.policy_source), ".\n",
      "# The broker reads each client's principal from its SVID's subject "
      "DN:\n",
      "# render --entries sets the subject of every agent entry to match.\n",
      "#\n",
      "# The listener's key and chain, and the trust bundle: PEM files kept\n",
      "# current by `mayfly watch x509 --write ", PropertiesComment(dir),
      "`. Altering these\n",
      "# settings again after a rotation (KIP-226) reloads them.\n");
  absl::StrAppend(
      &out, ssl, "keystore.type=PEM\n", ssl,
      "keystore.location=", PropertiesValue(dir + "/svid_keystore.pem"), "\n",
      ssl, "truststore.type=PEM\n", ssl,
      "truststore.location=", PropertiesValue(dir + "/svid_bundle.pem"), "\n",
      "# Every client presents an SVID.\n", ssl, "client.auth=required\n",
      "# Empty: no hostname check. SVIDs carry no DNS names unless their\n",
      "# entries give them (dns_names); identity is the SVID, not the host.\n",
      ssl, "endpoint.identification.algorithm=\n",
      "# User:NAME from a subject CN=NAME,OU=", kStockMarker, " (RFC 2253\n",
      "# order). No DEFAULT rule: a subject without the marker matches no\n",
      "# rule and the broker refuses the connection. Any CA in the\n",
      "# truststore can sign any subject, so it must hold only CAs whose\n",
      "# entries are rendered from this policy.\n", ssl,
      "principal.mapping.rules=", kStockMappingRule, "\n", "#\n",
      "# ACLs decide, and without one nothing is allowed; `mayfly bridge\n",
      "# apply` creates the policy's.\n", "authorizer.class.name=",
      "org.apache.kafka.metadata.authorizer.StandardAuthorizer\n",
      "allow.everyone.if.no.acl.found=false\n");
  if (policy.super_users().empty()) {
    // Seen on 4.4.0: without it a KRaft broker cannot register with its
    // controller (CLUSTER_ACTION denied), and no ACL can be applied before
    // it has registered.
    absl::StrAppend(&out,
                    "# super.users: none in the policy. A KRaft broker's "
                    "own principal needs\n# CLUSTER_ACTION to register with "
                    "its controller: list it in super_users.\n");
    return out;
  }
  for (const std::string& user : policy.super_users()) {
    absl::StatusOr<std::string> subject = StockSubject(user);
    if (!subject.ok()) {
      absl::StrAppend(&out, "# No SVID can be ", PropertiesComment(user),
                      " in stock mode: ",
                      PropertiesComment(subject.status().message()), ".\n");
    }
  }
  absl::StrAppend(&out, "super.users=",
                  PropertiesValue(absl::StrJoin(policy.super_users(), ";")),
                  "\n");
  return out;
}

absl::StatusOr<StockEntries> RenderStockEntries(const Policy& policy,
                                                absl::string_view yaml,
                                                absl::string_view source) {
  ASSIGN_OR_RETURN(YAML::Node root, identity::LoadYaml(yaml, source));
  const identity::YamlReader r(source);
  if (!root.IsMap() || !root["entries"]) {
    return r.Error(root, "entries",
                   root.IsMap() && root["entries_file"]
                       ? "not here: this config names an entries_file; "
                         "render that file"
                       : "want a document with an entries list");
  }
  YAML::Node entries = root["entries"];
  if (!entries.IsSequence()) return r.Error(entries, "entries", "want a list");
  StockEntries out;
  for (size_t i = 0; i < entries.size(); ++i) {
    YAML::Node entry = entries[i];
    const std::string field = absl::StrCat("entries[", i, "]");
    if (!entry.IsMap()) return r.Error(entry, field, "want a map");
    if (!entry["spiffe_id"]) {
      return r.Error(entry, field, "spiffe_id is required");
    }
    StockEntry report;
    report.source = r.At(entry);
    ASSIGN_OR_RETURN(report.spiffe_id,
                     r.String(entry["spiffe_id"], field + ".spiffe_id"));
    std::string old_subject;
    if (entry["subject"]) {
      ASSIGN_OR_RETURN(old_subject,
                       r.String(entry["subject"], field + ".subject"));
    }
    const MapResult mapped = policy.Map(report.spiffe_id);
    absl::StatusOr<std::string> subject =
        absl::FailedPreconditionError("denied");
    if (!mapped.principal.has_value()) {
      report.outcome = StockEntry::Outcome::kDenied;
      report.detail = absl::StrCat("denied (", DenialName(mapped.denial),
                                   "): ", mapped.detail);
      ++out.denied;
    } else {
      report.principal = *mapped.principal;
      subject = StockSubject(report.principal);
      if (subject.ok()) {
        report.detail = *subject;
      } else {
        report.outcome = StockEntry::Outcome::kUnexpressible;
        report.detail = std::string(subject.status().message());
        ++out.unexpressible;
      }
    }
    if (subject.ok()) {
      if (!old_subject.empty() && old_subject != *subject) {
        report.replaced_subject = old_subject;
      }
      entry["subject"] = *subject;
    } else if (entry["subject"] &&
               CarriesMarker(old_subject, report.spiffe_id)) {
      entry.remove("subject");
      report.removed_marked_subject = true;
    }
    out.entries.push_back(std::move(report));
  }
  YAML::Emitter emitter;
  emitter << root;
  if (!emitter.good()) {
    return absl::InternalError(
        absl::StrCat(source, ": cannot write YAML: ", emitter.GetLastError()));
  }
  out.yaml = absl::StrCat(emitter.c_str(), "\n");
  return out;
}

}  // namespace mayfly::bridge
