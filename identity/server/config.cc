// Parsing mayfly-server's config (format in config.h).
#include "identity/server/config.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/metrics/metrics_server.h"
#include "identity/server/entry_rules.h"
#include "identity/status_macros.h"
#include "identity/yaml_reader.h"

namespace mayfly::server {
namespace {

using identity::YamlReader;

std::string JoinPath(absl::string_view dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

absl::StatusOr<std::string> Path(const YamlReader& r, const YAML::Node& node,
                                 absl::string_view field,
                                 absl::string_view base_dir) {
  ASSIGN_OR_RETURN(std::string path, r.String(node, field));
  if (path.empty()) return r.Error(node, field, "empty path");
  return JoinPath(base_dir, path);
}

absl::Status ParseUpstream(const YamlReader& r, const YAML::Node& node,
                           absl::string_view base_dir, ServerConfig& config) {
  RETURN_IF_ERROR(r.CheckKeys(node, "signing.upstream", {"step_ca"}));
  if (!node["step_ca"]) {
    return r.Error(node, "signing.upstream", "give step_ca");
  }
  const YAML::Node& sc = node["step_ca"];
  RETURN_IF_ERROR(r.CheckKeys(
      sc, "signing.upstream.step_ca",
      {"url", "root_file", "provisioner", "provisioner_key_file", "ttl"}));
  for (const char* key :
       {"url", "root_file", "provisioner", "provisioner_key_file"}) {
    if (!sc[key]) {
      return r.Error(sc, absl::StrCat("signing.upstream.step_ca.", key),
                     "required");
    }
  }
  upstream::StepCaConfig& out = config.signing.step_ca;
  ASSIGN_OR_RETURN(out.url,
                   r.String(sc["url"], "signing.upstream.step_ca.url"));
  if (absl::Status url = upstream::ParseHttpsUrl(out.url).status(); !url.ok()) {
    return r.Error(sc["url"], "signing.upstream.step_ca.url", url.message());
  }
  ASSIGN_OR_RETURN(
      out.root_file,
      Path(r, sc["root_file"], "signing.upstream.step_ca.root_file", base_dir));
  ASSIGN_OR_RETURN(
      out.provisioner,
      r.String(sc["provisioner"], "signing.upstream.step_ca.provisioner"));
  if (out.provisioner.empty()) {
    return r.Error(sc["provisioner"], "signing.upstream.step_ca.provisioner",
                   "empty name");
  }
  ASSIGN_OR_RETURN(
      out.provisioner_key_file,
      Path(r, sc["provisioner_key_file"],
           "signing.upstream.step_ca.provisioner_key_file", base_dir));
  if (sc["ttl"]) {
    ASSIGN_OR_RETURN(config.signing.upstream_ttl,
                     r.Duration(sc["ttl"], "signing.upstream.step_ca.ttl"));
    if (config.signing.upstream_ttl < kMinUpstreamIntermediateTtl ||
        config.signing.upstream_ttl > kMaxUpstreamIntermediateTtl) {
      return r.Error(sc["ttl"], "signing.upstream.step_ca.ttl",
                     "must be from 1m to 8760h");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSigning(const YamlReader& r, const YAML::Node& node,
                          absl::string_view base_dir, ServerConfig& config) {
  RETURN_IF_ERROR(
      r.CheckKeys(node, "signing",
                  {"ca_dir", "intermediate_cert", "intermediate_key", "bundle",
                   "intermediate_ttl", "upstream"}));
  if (node["upstream"]) {
    for (const char* key : {"ca_dir", "intermediate_cert", "intermediate_key",
                            "bundle", "intermediate_ttl"}) {
      if (node[key]) {
        return r.Error(node[key], absl::StrCat("signing.", key),
                       "give either upstream or the other signing keys");
      }
    }
    config.signing.ca_dir.clear();
    return ParseUpstream(r, node["upstream"], base_dir, config);
  }
  if (node["ca_dir"]) {
    for (const char* key :
         {"intermediate_cert", "intermediate_key", "bundle"}) {
      if (node[key]) {
        return r.Error(node[key], absl::StrCat("signing.", key),
                       "give either ca_dir or intermediate_cert, "
                       "intermediate_key and bundle");
      }
    }
    ASSIGN_OR_RETURN(config.signing.ca_dir,
                     Path(r, node["ca_dir"], "signing.ca_dir", base_dir));
  } else {
    config.signing.ca_dir.clear();
    for (const char* key :
         {"intermediate_cert", "intermediate_key", "bundle"}) {
      if (!node[key]) {
        return r.Error(node, absl::StrCat("signing.", key),
                       "required without ca_dir");
      }
    }
    ASSIGN_OR_RETURN(config.signing.intermediate_cert,
                     Path(r, node["intermediate_cert"],
                          "signing.intermediate_cert", base_dir));
    ASSIGN_OR_RETURN(config.signing.intermediate_key,
                     Path(r, node["intermediate_key"],
                          "signing.intermediate_key", base_dir));
    ASSIGN_OR_RETURN(config.signing.bundle,
                     Path(r, node["bundle"], "signing.bundle", base_dir));
  }
  if (node["intermediate_ttl"]) {
    ASSIGN_OR_RETURN(
        config.signing.intermediate_ttl,
        r.Duration(node["intermediate_ttl"], "signing.intermediate_ttl"));
    if (config.signing.intermediate_ttl < 2 * kMaxSvidTtl) {
      return r.Error(node["intermediate_ttl"], "signing.intermediate_ttl",
                     "must be at least 48h (twice the longest SVID TTL)");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseStore(const YamlReader& r, const YAML::Node& node,
                        absl::string_view base_dir, ServerConfig& config) {
  RETURN_IF_ERROR(r.CheckKeys(node, "store", {"file", "etcd"}));
  if (node["file"] && node["etcd"]) {
    return r.Error(node, "store", "give one of file and etcd");
  }
  if (node["file"]) {
    RETURN_IF_ERROR(r.CheckKeys(node["file"], "store.file", {}));
    return absl::OkStatus();
  }
  if (!node["etcd"]) return r.Error(node, "store", "give one of file and etcd");
  const YAML::Node& etcd = node["etcd"];
  RETURN_IF_ERROR(r.CheckKeys(
      etcd, "store.etcd", {"endpoints", "ca_file", "cert_file", "key_file"}));
  if (etcd["ca_file"]) {
    ASSIGN_OR_RETURN(config.etcd_ca_file,
                     Path(r, etcd["ca_file"], "store.etcd.ca_file", base_dir));
  }
  if (etcd["cert_file"]) {
    ASSIGN_OR_RETURN(
        config.etcd_cert_file,
        Path(r, etcd["cert_file"], "store.etcd.cert_file", base_dir));
  }
  if (etcd["key_file"]) {
    ASSIGN_OR_RETURN(
        config.etcd_key_file,
        Path(r, etcd["key_file"], "store.etcd.key_file", base_dir));
  }
  if (config.etcd_cert_file.empty() != config.etcd_key_file.empty()) {
    return r.Error(etcd, "store.etcd",
                   "give both cert_file and key_file, or neither");
  }
  if (!node["etcd"]["endpoints"]) {
    return r.Error(node["etcd"], "store.etcd.endpoints", "required");
  }
  ASSIGN_OR_RETURN(auto endpoints, r.Strings(node["etcd"]["endpoints"],
                                             "store.etcd.endpoints"));
  if (endpoints.empty()) {
    return r.Error(node["etcd"]["endpoints"], "store.etcd.endpoints",
                   "at least one endpoint");
  }
  for (auto& [n, e] : endpoints) {
    // host:port, as etcd's --listen-client-urls without the scheme: TLS is
    // on when ca_file or cert_file is given.
    const size_t colon = e.rfind(':');
    if (e.find("://") != std::string::npos || colon == std::string::npos ||
        colon == 0 || colon + 1 == e.size()) {
      return r.Error(n, "store.etcd.endpoints",
                     absl::StrCat("\"", e, "\" is not host:port"));
    }
    config.etcd_endpoints.push_back(e);
  }
  return absl::OkStatus();
}

absl::Status ParseX509Pop(const YamlReader& r, const YAML::Node& node,
                          absl::string_view base_dir, ServerConfig& config) {
  RETURN_IF_ERROR(r.CheckKeys(node, "x509pop", {"ca_bundle", "aliases"}));
  if (!node["ca_bundle"]) {
    return r.Error(node, "x509pop.ca_bundle", "required");
  }
  ASSIGN_OR_RETURN(config.x509pop_ca_bundle,
                   Path(r, node["ca_bundle"], "x509pop.ca_bundle", base_dir));
  if (!node["aliases"]) return absl::OkStatus();
  if (!node["aliases"].IsSequence()) {
    return r.Error(node["aliases"], "x509pop.aliases", "want a list");
  }
  for (size_t i = 0; i < node["aliases"].size(); ++i) {
    const YAML::Node item = node["aliases"][i];
    const std::string field = absl::StrCat("x509pop.aliases[", i, "]");
    RETURN_IF_ERROR(r.CheckKeys(item, field, {"cn", "alias"}));
    if (!item["cn"] || !item["alias"]) {
      return r.Error(item, field, "want cn and alias");
    }
    X509PopAlias alias;
    ASSIGN_OR_RETURN(alias.cn, r.String(item["cn"], field + ".cn"));
    ASSIGN_OR_RETURN(alias.alias, r.String(item["alias"], field + ".alias"));
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(alias.alias);
    if (!id.ok() || !id->MemberOf(config.trust_domain)) {
      return r.Error(item["alias"], field + ".alias",
                     absl::StrCat("want a SPIFFE ID in trust domain ",
                                  config.trust_domain.name()));
    }
    config.x509pop_aliases.push_back(std::move(alias));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               absl::string_view source_name,
                                               absl::string_view base_dir,
                                               uid_t own_uid) {
  const YamlReader r(source_name);
  ASSIGN_OR_RETURN(YAML::Node root, identity::LoadYaml(yaml, source_name));
  RETURN_IF_ERROR(r.CheckKeys(
      root, "",
      {"trust_domain", "listen_address", "admin_socket", "admin_socket_mode",
       "admin_uids", "admin_ids", "state_dir", "store", "signing",
       "default_ttl", "agent_ttl", "join_token_ttl", "server_svid_ttl",
       "root_rotation_lead", "x509pop", "metrics_address", "log_level"}));
  for (const char* key : {"trust_domain", "state_dir"}) {
    if (!root[key]) return r.Error(root, key, "required");
  }
  ASSIGN_OR_RETURN(std::string td_text,
                   r.String(root["trust_domain"], "trust_domain"));
  absl::StatusOr<identity::TrustDomain> td =
      identity::TrustDomain::FromString(td_text);
  if (!td.ok()) {
    return r.Error(root["trust_domain"], "trust_domain", td.status().message());
  }
  ServerConfig config{*std::move(td)};
  ASSIGN_OR_RETURN(config.state_dir,
                   Path(r, root["state_dir"], "state_dir", base_dir));
  config.signing.ca_dir = absl::StrCat(config.state_dir, "/ca");
  if (root["listen_address"]) {
    ASSIGN_OR_RETURN(config.listen_address,
                     r.String(root["listen_address"], "listen_address"));
    if (config.listen_address.rfind(':') == std::string::npos) {
      return r.Error(root["listen_address"], "listen_address",
                     "want HOST:PORT");
    }
  }
  if (root["admin_socket"]) {
    ASSIGN_OR_RETURN(config.admin_socket,
                     r.String(root["admin_socket"], "admin_socket"));
    if (!absl::StartsWith(config.admin_socket, "/") ||
        config.admin_socket.size() > 107) {
      return r.Error(root["admin_socket"], "admin_socket",
                     "must be an absolute path of at most 107 bytes");
    }
  }
  if (root["admin_socket_mode"]) {
    ASSIGN_OR_RETURN(std::string mode,
                     r.String(root["admin_socket_mode"], "admin_socket_mode"));
    if (mode != "0600" && mode != "0660") {
      return r.Error(root["admin_socket_mode"], "admin_socket_mode",
                     "must be 0600 or 0660");
    }
    config.admin_socket_mode = mode == "0600" ? 0600 : 0660;
  }
  if (root["admin_uids"]) {
    if (!root["admin_uids"].IsSequence()) {
      return r.Error(root["admin_uids"], "admin_uids", "want a list");
    }
    for (size_t i = 0; i < root["admin_uids"].size(); ++i) {
      ASSIGN_OR_RETURN(
          int64_t uid,
          r.Integer(root["admin_uids"][i], absl::StrCat("admin_uids[", i, "]"),
                    0, 0xfffffffe));
      config.admin_uids.insert(static_cast<uid_t>(uid));
    }
  } else {
    config.admin_uids = {0, own_uid};
  }
  if (root["admin_ids"]) {
    ASSIGN_OR_RETURN(auto ids, r.Strings(root["admin_ids"], "admin_ids"));
    for (size_t i = 0; i < ids.size(); ++i) {
      absl::StatusOr<identity::SpiffeId> id =
          identity::SpiffeId::FromString(ids[i].second);
      if (!id.ok() || !id->MemberOf(config.trust_domain)) {
        return r.Error(ids[i].first, absl::StrCat("admin_ids[", i, "]"),
                       absl::StrCat("want a SPIFFE ID in trust domain ",
                                    config.trust_domain.name()));
      }
      config.admin_ids.insert(ids[i].second);
    }
  }
  if (root["store"])
    RETURN_IF_ERROR(ParseStore(r, root["store"], base_dir, config));
  if (root["signing"]) {
    RETURN_IF_ERROR(ParseSigning(r, root["signing"], base_dir, config));
  }
  for (auto [key, target] :
       {std::pair{"default_ttl", &config.default_ttl},
        std::pair{"agent_ttl", &config.agent_ttl},
        std::pair{"join_token_ttl", &config.join_token_ttl},
        std::pair{"server_svid_ttl", &config.server_svid_ttl}}) {
    if (!root[key]) continue;
    ASSIGN_OR_RETURN(*target, r.Duration(root[key], key));
    if (*target < kMinSvidTtl || *target > kMaxSvidTtl) {
      return r.Error(
          root[key], key,
          absl::StrCat("must be from ", absl::FormatDuration(kMinSvidTtl),
                       " to ", absl::FormatDuration(kMaxSvidTtl)));
    }
  }
  if (root["root_rotation_lead"]) {
    const YAML::Node node = root["root_rotation_lead"];
    ASSIGN_OR_RETURN(config.root_rotation_lead,
                     r.Duration(node, "root_rotation_lead"));
    if (config.root_rotation_lead < absl::ZeroDuration() ||
        config.root_rotation_lead > kMaxRootRotationLead) {
      return r.Error(node, "root_rotation_lead",
                     absl::StrCat("must be from 0s to ",
                                  absl::FormatDuration(kMaxRootRotationLead)));
    }
  }
  if (root["x509pop"]) {
    RETURN_IF_ERROR(ParseX509Pop(r, root["x509pop"], base_dir, config));
  }
  if (root["metrics_address"]) {
    ASSIGN_OR_RETURN(config.metrics_address,
                     r.String(root["metrics_address"], "metrics_address"));
    // The metrics server's own check, so what passes here binds.
    if (absl::Status s = metrics::CheckMetricsAddress(config.metrics_address);
        !s.ok()) {
      return r.Error(root["metrics_address"], "metrics_address", s.message());
    }
  }
  if (root["log_level"]) {
    ASSIGN_OR_RETURN(std::string level,
                     r.String(root["log_level"], "log_level"));
    absl::StatusOr<LogLevel> parsed = ParseLogLevel(level);
    if (!parsed.ok()) {
      return r.Error(root["log_level"], "log_level", parsed.status().message());
    }
    config.log_level = *parsed;
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  absl::StatusOr<std::string> text = identity::ReadFile(path, 1 << 20);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", text.status().message()));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos
                              ? "."
                              : path.substr(0, std::max<size_t>(slash, 1));
  return ParseServerConfig(*text, path, dir, getuid());
}

}  // namespace mayfly::server
