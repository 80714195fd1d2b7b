// The agent's configuration: one YAML file, with the entries inline or in a
// file of their own.
//
//   trust_domain: example.org                 # required
//   socket_path: /run/mayfly-agent/api.sock   # required, < 108 bytes
//   state_dir: /var/lib/mayfly-agent          # required
//   default_ttl: 5m                           # SVID lifetime
//   intermediate_ttl: 1h                      # the agent's signing CA, <= 4d
//   root_rotation_lead: 30s                   # see AgentConfig
//   metrics_address: 127.0.0.1:9988           # optional, loopback only
//   log_level: info                           # debug|info|warn|error
//   limits: {max_connections: 1024, ...}      # see AgentLimits
//   entries:                                  # or entries_file: PATH
//     - spiffe_id: spiffe://example.org/web
//       selectors: ["unix:uid:1000", "unix:path:/usr/bin/web"]
//       ttl: 2m
//       dns_names: [web.internal]
//       hint: web
//       subject: "CN={spiffe_id},O=Acme"
//
// Server mode: entries and SVIDs come from mayfly-server; the agent holds
// no CA, and `entries`/`entries_file` are refused.
//
//   server:
//     address: [ca1.internal:8443, ca2.internal:8443]   # required
//     bundle: /etc/mayfly/bundle.pem      # or root_sha256: 64 hex digits
//     join_token: TOKEN                   # or join_token_file: FILE,
//                                         # or x509pop: {cert: F, key: F}
//
// Every error reads "FILE:LINE: FIELD: what is wrong". Unknown keys are
// errors, so a typo never silently becomes a default.
#ifndef MAYFLY_IDENTITY_AGENT_CONFIG_H_
#define MAYFLY_IDENTITY_AGENT_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/log/log.h"
#include "identity/spiffe_id.h"
#include "identity/subject.h"

namespace mayfly::agent {

// SVID lifetimes an entry may ask for. Rotation at half-life with ±10%
// jitter needs a few seconds of room; a day is already far from "minutes".
inline constexpr absl::Duration kMinSvidTtl = absl::Seconds(10);
inline constexpr absl::Duration kMaxSvidTtl = absl::Hours(24);
// The intermediate must outlive every SVID it signs by a wide margin: it
// renews at half-life, and what it signed just before must still be valid.
inline constexpr int kIntermediateToSvidTtlRatio = 4;
// kIntermediateToSvidTtlRatio x kMaxSvidTtl: enough for the longest SVID an
// entry may have. Longer only widens the window in which a copy of the
// intermediate's key (in the agent's memory, not revocable) mints any
// identity of the trust domain. At start the agent also refuses an
// intermediate_ttl its root expires within (authority.h).
inline constexpr absl::Duration kMaxIntermediateTtl =
    absl::Hours(kIntermediateToSvidTtlRatio * 24);
// Idle connections are closed by the agent's loop, which turns about once
// a second: a shorter timeout would not be honoured.
inline constexpr absl::Duration kMinIdleConnectionTimeout = absl::Seconds(1);
// A hint is a short label for the workload; the Workload API sets no
// limit, this one keeps it a label.
inline constexpr size_t kMaxHintLength = 64;
inline constexpr size_t kMaxDnsNameLength = 253;

// A subject with placeholders: {spiffe_id}, {trust_domain}, {path}.
struct SubjectTemplate {
  std::vector<std::pair<std::string, std::string>> attributes;
  bool empty() const { return attributes.empty(); }
};

absl::StatusOr<SubjectTemplate> ParseSubjectTemplate(absl::string_view text);

// A DNS name an entry may carry: labels of letters, digits and '-' (not at
// either end), at most 63 bytes each and kMaxDnsNameLength in all; a
// leading "*." is allowed.
bool IsValidDnsName(absl::string_view name);
absl::StatusOr<identity::Subject> ExpandSubject(const SubjectTemplate& tmpl,
                                                const identity::SpiffeId& id);

struct EntryConfig {
  identity::SpiffeId spiffe_id;
  // Canonical (selectors.h), sorted, without duplicates; never empty.
  std::vector<std::string> selectors;
  absl::Duration ttl = absl::ZeroDuration();  // zero: default_ttl
  std::vector<std::string> dns_names;
  std::string hint;
  SubjectTemplate subject;
  // "FILE:LINE" of the entry, for logs and errors.
  std::string source;
};

// Defaults sized for a node with a few hundred workloads.
struct AgentLimits {
  // Beyond this, new connections are closed at once (file descriptors are
  // the agent's own lifeline).
  int max_connections = 4096;
  // Connections one uid may hold open: one local user cannot lock the
  // others out at accept. A uid running hundreds of worker processes with
  // a client each still fits; a hostile uid holds at most an eighth of the
  // default max_connections.
  int max_connections_per_uid = 512;
  // Streams one process may hold open; a go-spiffe client opens 2-3.
  int max_streams_per_caller = 64;
  // Token bucket per process: a client fetching in a loop is throttled,
  // a normal one (a few calls per rotation) never notices.
  double requests_per_second_per_caller = 50;
  int request_burst = 100;
  // Workload API requests are tiny; this stops a caller making the agent
  // buffer megabytes.
  int max_request_bytes = 64 * 1024;
  // A response with many SVIDs and bundles; gRPC's default is 4 MiB.
  int max_response_bytes = 4 << 20;
  // Executables larger than this get no unix:sha256 selector.
  int64_t max_hash_bytes = int64_t{512} << 20;
  // A connection with no stream open and no call started for this long is
  // closed (so is one that never sent a byte). A well-behaved client
  // either holds a stream (never idle) or calls now and then; gRPC
  // reconnects on its next call, so closing costs it one reconnect, while
  // a leaked or hostile connection holds its slot for at most this long.
  absl::Duration idle_connection_timeout = absl::Seconds(60);
};

// Where a server-mode agent gets its entries and SVIDs (see above).
struct ServerConfig {
  // host:port of each server replica, tried in order on failover.
  std::vector<std::string> addresses;
  // Exactly one of: a PEM file of the roots the server chains to, or the
  // SHA-256 (lowercase hex, of the DER) of the root the server's chain ends
  // with. Paths are resolved against the config file's directory.
  std::string bundle_file;
  std::string root_sha256;
  // Exactly one way to attest: a join token (inline or in a file), or
  // x509pop with a node certificate and its key (PEM).
  std::string join_token;
  std::string join_token_file;
  std::string x509pop_cert;
  std::string x509pop_key;
};

struct AgentConfig {
  identity::TrustDomain trust_domain;
  std::string socket_path;
  std::string state_dir;
  absl::Duration default_ttl = absl::Minutes(5);
  absl::Duration intermediate_ttl = absl::Hours(1);
  // During a root rotation, how long the bundle with the new root must
  // have been with every watcher before the new root signs anything: time
  // for programs that read bundle files to reload them.
  absl::Duration root_rotation_lead = absl::Seconds(30);
  // Resolved against the config file's directory; empty when inline.
  std::string entries_file;
  std::vector<EntryConfig> entries;
  // Set in server mode; then entries and entries_file are empty.
  std::optional<ServerConfig> server;
  std::string metrics_address;
  LogLevel log_level = LogLevel::kInfo;
  AgentLimits limits;
};

// `source_name` is what errors call the text (a path, or a description).
// `base_dir` resolves a relative entries_file.
absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml,
                                             absl::string_view source_name,
                                             absl::string_view base_dir = "");
absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path);

// An entries file: a document whose only key is `entries`.
absl::StatusOr<std::vector<EntryConfig>> ParseEntries(
    absl::string_view yaml, absl::string_view source_name);
absl::StatusOr<std::vector<EntryConfig>> LoadEntries(const std::string& path);

// The entries `config` serves at start: its inline ones, or its
// entries_file loaded and checked against its trust domain, with the errors
// the agent gives at start. What --check-config runs.
absl::StatusOr<std::vector<EntryConfig>> LoadConfiguredEntries(
    const AgentConfig& config);

// FailedPrecondition naming the first entry outside `trust_domain`.
absl::Status CheckEntriesInTrustDomain(
    const std::vector<EntryConfig>& entries,
    const identity::TrustDomain& trust_domain);

// The embedded default: trust domain example.org and one entry giving `uid`
// the identity spiffe://example.org/user/UID.
std::string DefaultAgentConfigYaml(uint32_t uid, const std::string& runtime_dir,
                                   const std::string& state_dir);

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_CONFIG_H_
