// The bridge policy: which SPIFFE ID is which Kafka principal, and what each
// principal may do. One YAML file, the single source of truth for the C++
// bridge and the Java broker plugin (docs/kafka.md is the reference):
//
//   trust_domains: [prod.acme]
//   brokers: [spiffe://prod.acme/kafka/*]  # the brokers' SPIFFE IDs
//   principals:                       # first match wins
//     - id: spiffe://prod.acme/ns/{ns}/sa/{sa}
//       principal: User:{ns}.{sa}
//     - id: spiffe://prod.acme/kafka/broker
//       principal: User:broker
//   unmapped: deny
//   super_users: [User:broker]
//   acls:
//     - principal: User:orders.writer
//       resource: {type: topic, name: orders, pattern: literal}
//       operations: [write, describe]
//       permission: allow
//
// Mapping is pure and total: every string gets a principal or a Denial with
// a reason. A capture "{name}" is one whole path segment; patterns are
// checked at load time (no rule may be unreachable behind an earlier one,
// no capture may be ambiguous). Errors read "FILE:LINE: FIELD: what".
//
// `brokers` lists the SPIFFE IDs (patterns: "*" one segment, "**" last, one
// or more) a broker may present; each in trust_domains. Every SVID carries
// serverAuth, so without it any workload of the trust domain could pose as
// a broker: a policy may leave it out for `check` and `map`, but the
// commands that talk to or configure brokers (RequireBrokers) refuse it.
// No principal may be Kafka's wildcard "TYPE:*" (every user).
//
// A Policy is immutable once loaded and safe to share between threads.
#ifndef MAYFLY_BRIDGE_POLICY_H_
#define MAYFLY_BRIDGE_POLICY_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/acl.h"
#include "identity/spiffe_id.h"

namespace mayfly::bridge {

// Why an ID has no principal. The names are part of the vectors file that
// the C++ and Java mappers both pass (bridge/testdata/mapping_vectors.yaml).
enum class Denial {
  kInvalidId,           // "invalid_id": not a SPIFFE ID by the spec's rules
  kForeignTrustDomain,  // "foreign_trust_domain": not in trust_domains
  kUnmapped,            // "unmapped": no rule matches and unmapped is deny
};
absl::string_view DenialName(Denial denial);

struct MapResult {
  // Set when the ID maps: "User:orders.writer".
  std::optional<std::string> principal;
  // Meaningful only when principal is unset.
  Denial denial = Denial::kUnmapped;
  // For people: which rule matched, or what is wrong with the ID.
  std::string detail;
};

// One `principals` entry as loaded.
struct PrincipalRule {
  std::string id_pattern;          // as written: "spiffe://t/ns/{ns}/sa/{sa}"
  std::string principal_template;  // as written: "User:{ns}.{sa}"
  std::vector<std::string> captures;  // names in path order: {"ns", "sa"}
  std::string source;                 // "FILE:LINE"
};

// What precedes a policy's sha256() wherever it is shown (the Java plugin's
// PolicyDigest.LABEL is the same).
inline constexpr absl::string_view kPolicyDigestLabel = "policy sha256:";

class Policy {
 public:
  static absl::StatusOr<Policy> Parse(absl::string_view yaml,
                                      absl::string_view source);
  static absl::StatusOr<Policy> Load(const std::string& path);

  MapResult Map(absl::string_view spiffe_id) const;

  // Whether some rule can produce `principal` ("Type:Name"): the policy owns
  // every ACL whose principal it can produce, and only those. A capture
  // stands for one whole segment (one or more of [A-Za-z0-9._-], not "." or
  // ".."); literal parts must match exactly. With `unmapped: anonymous`,
  // "User:ANONYMOUS" too.
  bool Owns(absl::string_view principal) const;

  const std::vector<identity::TrustDomain>& trust_domains() const;
  // The `brokers` patterns in file order; empty when the policy has none.
  const std::vector<identity::SpiffeIdPattern>& brokers() const;
  // Whether `id` is one of the brokers.
  bool IsBroker(const identity::SpiffeId& id) const;
  // FailedPrecondition naming `brokers` and `command` when there are none.
  absl::Status RequireBrokers(absl::string_view command) const;
  const std::vector<PrincipalRule>& rules() const;
  // "User:..." principals the broker treats as super users.
  const std::vector<std::string>& super_users() const;
  // Every grant expanded to one binding per operation; sorted, no duplicates.
  const std::vector<AclBinding>& acls() const;
  // SHA-256 of the bytes the policy was parsed from (for Load, the file's),
  // 64 lower-case hex digits. Shown as kPolicyDigestLabel + hex by `mayfly
  // bridge check` and in the broker plugin's log at every (re)load, so an
  // operator can tell which file a broker runs (`sha256sum` gives the same).
  const std::string& sha256() const;

 private:
  // Filled in by the implementation (policy.cc).
  struct Impl;
  explicit Policy(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  // Immutable once built, so copies of a Policy share it.
  std::shared_ptr<const Impl> impl_;
};

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_POLICY_H_
