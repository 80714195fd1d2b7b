// The agent's YAML config with file:line:field errors: see config.h.
#include "identity/agent/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "identity/agent/internal/entry_list.h"
#include "identity/agent/internal/server_block.h"
#include "identity/file_util.h"
#include "identity/metrics/metrics_server.h"
#include "identity/status_macros.h"
#include "identity/yaml_reader.h"

namespace mayfly::agent {
namespace {

using identity::LoadYaml;
using identity::YamlReader;
using internal::ParseEntryList;

// sockaddr_un.sun_path is 108 bytes on Linux, NUL included.
constexpr size_t kMaxSocketPath = 107;

std::string JoinPath(absl::string_view dir, absl::string_view path) {
  if (absl::StartsWith(path, "/") || dir.empty()) return std::string(path);
  return absl::StrCat(dir, "/", path);
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = identity::ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", text.status().message()));
  }
  return text;
}

}  // namespace

absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml,
                                             absl::string_view source_name,
                                             absl::string_view base_dir) {
  const YamlReader r(source_name);
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml, source_name));
  RETURN_IF_ERROR(r.CheckKeys(
      root, "",
      {"trust_domain", "socket_path", "state_dir", "default_ttl",
       "intermediate_ttl", "root_rotation_lead", "entries", "entries_file",
       "metrics_address", "log_level", "limits", "server"}));
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

  if (config.intermediate_ttl > kMaxIntermediateTtl) {
    return r.Error(root["intermediate_ttl"], "intermediate_ttl",
                   absl::StrCat("must be at most ",
                                absl::FormatDuration(kMaxIntermediateTtl), " (",
                                kIntermediateToSvidTtlRatio,
                                "x the longest SVID TTL an entry may have)"));
  }

  const bool inline_entries = static_cast<bool>(root["entries"]);
  const bool file_entries = static_cast<bool>(root["entries_file"]);
  if (root["server"]) {
    if (inline_entries || file_entries) {
      const char* key = inline_entries ? "entries" : "entries_file";
      return r.Error(root[key], key,
                     "not allowed with server: (entries come from the "
                     "server)");
    }
    ASSIGN_OR_RETURN(config.server,
                     internal::ParseServerBlock(r, root["server"], base_dir));
  } else if (inline_entries == file_entries) {
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
  } else if (file_entries) {
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
      return r.Error(root["log_level"], "log_level",
                     "want debug, info, warn or error");
    }
    config.log_level = *parsed;
  }
  if (const YAML::Node limits = root["limits"]) {
    RETURN_IF_ERROR(r.CheckKeys(
        limits, "limits",
        {"max_connections", "max_connections_per_uid", "max_streams_per_caller",
         "requests_per_second_per_caller", "request_burst", "max_request_bytes",
         "max_response_bytes", "max_hash_bytes", "idle_connection_timeout"}));
    AgentLimits& l = config.limits;
    for (auto [key, target, max] :
         {std::tuple{"max_connections", &l.max_connections, 1 << 20},
          std::tuple{"max_connections_per_uid", &l.max_connections_per_uid,
                     1 << 20},
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
      ASSIGN_OR_RETURN(
          l.requests_per_second_per_caller,
          r.PositiveNumber(limits["requests_per_second_per_caller"],
                           "limits.requests_per_second_per_caller"));
    }
    if (const YAML::Node idle = limits["idle_connection_timeout"]) {
      ASSIGN_OR_RETURN(l.idle_connection_timeout,
                       r.Duration(idle, "limits.idle_connection_timeout"));
      if (l.idle_connection_timeout < kMinIdleConnectionTimeout) {
        return r.Error(
            idle, "limits.idle_connection_timeout",
            absl::StrCat("must be at least ",
                         absl::FormatDuration(kMinIdleConnectionTimeout)));
      }
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
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseAgentConfig(text, path, DirOf(path));
}

absl::StatusOr<std::vector<EntryConfig>> ParseEntries(
    absl::string_view yaml, absl::string_view source_name) {
  const YamlReader r(source_name);
  ASSIGN_OR_RETURN(YAML::Node root, LoadYaml(yaml, source_name));
  RETURN_IF_ERROR(r.CheckKeys(root, "", {"entries"}));
  if (!root["entries"]) return r.Error(root, "entries", "required");
  return ParseEntryList(r, root["entries"]);
}

absl::StatusOr<std::vector<EntryConfig>> LoadEntries(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path));
  return ParseEntries(text, path);
}

absl::StatusOr<std::vector<EntryConfig>> LoadConfiguredEntries(
    const AgentConfig& config) {
  if (config.entries_file.empty()) return config.entries;
  ASSIGN_OR_RETURN(std::vector<EntryConfig> entries,
                   LoadEntries(config.entries_file));
  RETURN_IF_ERROR(CheckEntriesInTrustDomain(entries, config.trust_domain));
  return entries;
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
