// ServerStore: mayfly-server's data model over a KvStore.
//
// Key layout (one trust domain per store):
//   /mayfly/v1/entries/<parent_id>|<entry_id>  Entry (revision left 0)
//   /mayfly/v1/entry-ids/<entry_id>            parent_id
//   /mayfly/v1/tokens/<sha256 hex of token>    JoinTokenRecord
//   /mayfly/v1/agents/<agent SPIFFE ID>        Agent
//   /mayfly/v1/bundle                          Bundle
// An agent's entries are one prefix Range per parent it answers to (its own
// ID and each alias): "/mayfly/v1/entries/<parent>|". '|' cannot occur in a
// SPIFFE ID, so one parent's prefix never covers another's.
//
// Reads here are linearizable (they go to the KvStore); the agent-facing
// cache with change notifications is StoreCache (store_cache.h). Writes
// that depend on what they read use the read's mod_revision as the Txn's
// compare, so two replicas (or two requests) cannot both win: a join token
// is consumed by exactly one Attest, an eviction is never undone by a
// concurrent renewal.
//
// Thread-safe (stateless over the KvStore, which is).
#ifndef MAYFLY_IDENTITY_SERVER_SERVER_STORE_H_
#define MAYFLY_IDENTITY_SERVER_SERVER_STORE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "identity/clock.h"
#include "identity/jwt.h"
#include "identity/server/kv_store.h"
#include "identity/server/proto/server.pb.h"
#include "identity/spiffe_id.h"

namespace mayfly::server {

inline constexpr char kKeyPrefix[] = "/mayfly/v1/";
inline constexpr char kEntriesPrefix[] = "/mayfly/v1/entries/";
inline constexpr char kEntryIdsPrefix[] = "/mayfly/v1/entry-ids/";
inline constexpr char kTokensPrefix[] = "/mayfly/v1/tokens/";
inline constexpr char kAgentsPrefix[] = "/mayfly/v1/agents/";
inline constexpr char kBundleKey[] = "/mayfly/v1/bundle";

// Bounds: the most entries a list returns (and a store holds per parent or
// in all, for a list without a parent), and the most agents listed.
inline constexpr int64_t kMaxEntries = 100000;
inline constexpr int64_t kMaxEntriesPerParent = 10000;
inline constexpr int64_t kMaxAgents = 100000;
// Aliases one join token or agent may carry.
inline constexpr int kMaxAliases = 16;
// A Txn losing a compare to a concurrent writer is retried this often
// before the caller is told to retry (Aborted).
inline constexpr int kTxnAttempts = 5;

std::string EntryKey(const std::string& parent_id, const std::string& id);
std::string EntryParentPrefix(const std::string& parent_id);

class ServerStore {
 public:
  // Neither is owned; both must outlive the store.
  ServerStore(KvStore& kv, identity::TrustDomain td,
              const identity::Clock& clock)
      : kv_(kv), td_(std::move(td)), clock_(clock) {}

  KvStore& kv() { return kv_; }
  const identity::TrustDomain& trust_domain() const { return td_; }

  // Validates (entry_rules.h), assigns a new id, stores. Returns the stored
  // entry with its revision.
  absl::StatusOr<v1::Entry> CreateEntry(v1::Entry entry);
  // Replaces entry.id's fields. NotFound; Aborted if it changed meanwhile.
  absl::StatusOr<v1::Entry> UpdateEntry(v1::Entry entry);
  absl::Status DeleteEntry(const std::string& id);
  absl::StatusOr<v1::Entry> GetEntry(const std::string& id);
  // The entry `id` if it is parented to `parent_id`, in one read of its key
  // (GetEntry reads the id index first, then the entry: two). NotFound if
  // it is under another parent or nowhere.
  absl::StatusOr<v1::Entry> GetEntryOfParent(const std::string& parent_id,
                                             const std::string& id);
  // Filters as ListEntriesRequest's; ResourceExhausted beyond the bounds.
  absl::StatusOr<v1::ListEntriesResponse> ListEntries(
      const std::string& parent_id, const std::string& spiffe_id);

  // Stores a join token by its hash.
  absl::Status PutJoinToken(const std::string& sha256_hex,
                            const v1::JoinTokenRecord& record);
  // Consumes the token (deleted in the same Txn that creates `agent`, with
  // its aliases). PermissionDenied if unknown, used or expired.
  absl::StatusOr<v1::Agent> ConsumeJoinToken(const std::string& sha256_hex,
                                             v1::Agent agent);

  // NotFound if the agent was never attested.
  absl::StatusOr<v1::Agent> GetAgent(const std::string& agent_id);
  // Creates or refreshes an agent record (x509pop attestation).
  // PermissionDenied if the agent exists and is evicted.
  absl::StatusOr<v1::Agent> UpsertAttestedAgent(v1::Agent agent);
  // Records a renewal. PermissionDenied if evicted, NotFound if unknown.
  absl::Status RecordAgentSvid(const std::string& agent_id,
                               const std::string& serial, int64_t not_after);
  absl::StatusOr<std::vector<v1::Agent>> ListAgents();
  absl::StatusOr<v1::Agent> EvictAgent(const std::string& agent_id);

  // The bundle; an empty one (trust domain set) if none is stored yet.
  absl::StatusOr<v1::Bundle> GetBundle();
  // Adds the roots (DER) and the JWT key (its public half) that are
  // missing, never removing another replica's.
  absl::Status PublishToBundle(const std::vector<std::string>& roots_der,
                               const identity::JwtSigningKey& jwt_key);
  // Removes exactly the root whose DER is `root_der` (a root this replica
  // published and has retired), leaving every other root and key as they
  // are. Returns whether it was there. Used by root rotation's Drop
  // (root_rotation.h) only.
  absl::StatusOr<bool> RemoveRootFromBundle(const std::string& root_der);

 private:
  // Reads, changes and writes one agent record under a mod_revision
  // compare, retrying a few times on a concurrent change.
  absl::StatusOr<v1::Agent> ModifyAgent(
      const std::string& agent_id,
      const std::function<absl::Status(v1::Agent&)>& change);

  KvStore& kv_;
  const identity::TrustDomain td_;
  const identity::Clock& clock_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_SERVER_STORE_H_
