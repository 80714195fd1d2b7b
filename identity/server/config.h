// mayfly-server's YAML config. Errors are InvalidArgument "FILE:LINE:
// FIELD: message" (identity/yaml_reader.h); unknown keys are refused.
//
//   trust_domain: example.org              required
//   listen_address: 127.0.0.1:8081         Node API (TLS), host:port
//   admin_socket: /run/mayfly-server/admin.sock
//   admin_socket_mode: 0600                octal, 0600 or 0660
//   admin_uids: [0, 1000]                  default: root and the server's uid
//   admin_ids: [spiffe://example.org/admin]  admins over mTLS
//   state_dir: /var/lib/mayfly-server      required (0700)
//   store: {file: {}}                      the default
//        | {etcd: {endpoints: [10.0.0.1:2379, ...],
//                  ca_file: F, cert_file: F, key_file: F}}   TLS optional
//   signing: {ca_dir: /var/lib/mayfly-server/ca}     the default: STATE/ca
//          | {intermediate_cert: F, intermediate_key: F, bundle: F,
//             [intermediate_ttl: 96h]}
//          | {upstream: {step_ca: {url: https://HOST:PORT, root_file: F,
//               provisioner: NAME, provisioner_key_file: F, [ttl: 24h]}}}
//   default_ttl: 5m        an entry's X.509-SVID TTL when it names none
//   agent_ttl: 1h          agent SVIDs
//   join_token_ttl: 10m
//   server_svid_ttl: 1h    the server's own TLS SVID (renewed at half-life)
//   root_rotation_lead: 30s  how long the store's bundle carries a
//                          prepared root before it signs (both modes)
//   x509pop: {ca_bundle: F, aliases: [{cn: "kafka-*", alias: SPIFFE_ID}]}
//   metrics_address: 127.0.0.1:9989       Prometheus /metrics, loopback only
//   log_level: info
// Relative file paths are relative to the config file's directory.
#ifndef MAYFLY_IDENTITY_SERVER_CONFIG_H_
#define MAYFLY_IDENTITY_SERVER_CONFIG_H_

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/log/log.h"
#include "identity/server/node_service.h"
#include "identity/server/replica_signer.h"
#include "identity/spiffe_id.h"

namespace mayfly::server {

inline constexpr absl::Duration kDefaultServerSvidTtl = absl::Hours(1);
// The agent's default root_rotation_lead (identity/agent/config.h): long
// enough for every Sync stream to have pushed the bundle with the next root.
inline constexpr absl::Duration kDefaultRootRotationLead = absl::Seconds(30);
// Upstream mode: the maintenance loop (every 30 s) must see the half-life
// pass before the intermediate expires; short TTLs are for tests.
inline constexpr absl::Duration kMinUpstreamIntermediateTtl = absl::Minutes(1);
// No upstream CA should hand out an online intermediate for more than a year.
inline constexpr absl::Duration kMaxUpstreamIntermediateTtl =
    absl::Hours(24 * 365);
// A longer lead only delays a rotation an admin asked for.
inline constexpr absl::Duration kMaxRootRotationLead = absl::Hours(24);

struct ServerConfig {
  identity::TrustDomain trust_domain;
  std::string listen_address = "127.0.0.1:8081";
  std::string admin_socket;  // empty: no admin socket
  mode_t admin_socket_mode = 0600;
  std::set<uid_t> admin_uids;
  std::set<std::string> admin_ids;
  std::string state_dir;
  // Empty: the file store in state_dir.
  std::vector<std::string> etcd_endpoints;
  // TLS to etcd (PEM files); all empty: plaintext (loopback only).
  std::string etcd_ca_file;
  std::string etcd_cert_file;
  std::string etcd_key_file;
  SigningConfig signing;
  absl::Duration default_ttl = kDefaultEntryTtl;
  absl::Duration agent_ttl = kDefaultAgentTtl;
  absl::Duration join_token_ttl = absl::Minutes(10);
  absl::Duration server_svid_ttl = kDefaultServerSvidTtl;
  absl::Duration root_rotation_lead = kDefaultRootRotationLead;
  std::string x509pop_ca_bundle;  // empty: x509pop off
  std::vector<X509PopAlias> x509pop_aliases;
  // Empty: no metrics endpoint.
  std::string metrics_address;
  LogLevel log_level = LogLevel::kInfo;
};

// `source_name` names the text in errors; `base_dir` resolves relative
// paths; `own_uid` joins root in the default admin_uids.
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               absl::string_view source_name,
                                               absl::string_view base_dir,
                                               uid_t own_uid);
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_CONFIG_H_
