// ServerStore: entries, join tokens, agents and the bundle as KvStore keys
// and transactions (layout in server_store.h).
#include "identity/server/server_store.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/jwt.h"
#include "identity/server/entry_rules.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

std::string EntryIdKey(const std::string& id) {
  return absl::StrCat(kEntryIdsPrefix, id);
}
std::string AgentKey(const std::string& id) {
  return absl::StrCat(kAgentsPrefix, id);
}

absl::StatusOr<std::string> NewEntryId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

bool ValidEntryId(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status InvalidEntryId(const std::string& id) {
  return absl::InvalidArgumentError(
      absl::StrCat("entry id \"", absl::CHexEscape(id.substr(0, 64)),
                   "\": want 32 lowercase hex digits"));
}

template <typename T>
absl::StatusOr<T> Parse(const KeyValue& kv) {
  T msg;
  if (!msg.ParseFromString(kv.value)) {
    return absl::DataLossError(
        absl::StrCat("store key ", kv.key, " does not parse"));
  }
  return msg;
}

absl::StatusOr<v1::Entry> EntryFrom(const KeyValue& kv) {
  ASSIGN_OR_RETURN(v1::Entry e, Parse<v1::Entry>(kv));
  e.set_revision(kv.mod_revision);
  return e;
}

}  // namespace

std::string EntryKey(const std::string& parent_id, const std::string& id) {
  return absl::StrCat(EntryParentPrefix(parent_id), id);
}
std::string EntryParentPrefix(const std::string& parent_id) {
  return absl::StrCat(kEntriesPrefix, parent_id, "|");
}

absl::StatusOr<v1::Entry> ServerStore::CreateEntry(v1::Entry entry) {
  RETURN_IF_ERROR(ValidateEntry(td_, entry));
  ASSIGN_OR_RETURN(std::string id, NewEntryId());
  entry.set_id(id);
  entry.set_revision(0);
  // The bound on one parent's entries: what a Sync or a list must carry.
  absl::StatusOr<RangeResult> existing =
      kv_.Range(EntryParentPrefix(entry.parent_id()), kMaxEntriesPerParent - 1);
  if (absl::IsResourceExhausted(existing.status())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("parent ", entry.parent_id(), " already has ",
                     kMaxEntriesPerParent - 1, " entries"));
  }
  if (!existing.ok()) return existing.status();
  // Two entries alike would make the agent's choice between them arbitrary.
  for (const KeyValue& kv : existing->kvs) {
    ASSIGN_OR_RETURN(v1::Entry other, EntryFrom(kv));
    if (other.spiffe_id() == entry.spiffe_id() &&
        std::equal(other.selectors().begin(), other.selectors().end(),
                   entry.selectors().begin(), entry.selectors().end())) {
      return absl::AlreadyExistsError(
          absl::StrCat("entry ", other.id(),
                       " has the same parent_id, spiffe_id and "
                       "selectors"));
    }
  }
  ASSIGN_OR_RETURN(
      TxnResult r,
      kv_.Txn({{EntryIdKey(id), 0}},
              {{Op::Kind::kPut, EntryKey(entry.parent_id(), id),
                entry.SerializeAsString()},
               {Op::Kind::kPut, EntryIdKey(id), entry.parent_id()}}));
  if (!r.succeeded) return absl::AbortedError("entry id collision; retry");
  entry.set_revision(r.revision);
  return entry;
}

absl::StatusOr<v1::Entry> ServerStore::UpdateEntry(v1::Entry entry) {
  if (!ValidEntryId(entry.id())) {
    return absl::InvalidArgumentError("id: want 32 lowercase hex digits");
  }
  RETURN_IF_ERROR(ValidateEntry(td_, entry));
  entry.set_revision(0);
  ASSIGN_OR_RETURN(KeyValue id_kv, kv_.Get(EntryIdKey(entry.id())));
  const std::string old_key = EntryKey(id_kv.value, entry.id());
  ASSIGN_OR_RETURN(KeyValue old_kv, kv_.Get(old_key));
  const std::string new_key = EntryKey(entry.parent_id(), entry.id());
  std::vector<Op> ops;
  if (old_key != new_key) ops.push_back({Op::Kind::kDelete, old_key, ""});
  ops.push_back({Op::Kind::kPut, new_key, entry.SerializeAsString()});
  ops.push_back({Op::Kind::kPut, EntryIdKey(entry.id()), entry.parent_id()});
  ASSIGN_OR_RETURN(TxnResult r, kv_.Txn({{id_kv.key, id_kv.mod_revision},
                                         {old_key, old_kv.mod_revision}},
                                        ops));
  if (!r.succeeded) {
    return absl::AbortedError(
        absl::StrCat("entry ", entry.id(), " changed meanwhile; retry"));
  }
  entry.set_revision(r.revision);
  return entry;
}

absl::Status ServerStore::DeleteEntry(const std::string& id) {
  ASSIGN_OR_RETURN(v1::Entry entry, GetEntry(id));
  ASSIGN_OR_RETURN(
      TxnResult r,
      kv_.Txn({{EntryKey(entry.parent_id(), id), entry.revision()}},
              {{Op::Kind::kDelete, EntryKey(entry.parent_id(), id), ""},
               {Op::Kind::kDelete, EntryIdKey(id), ""}}));
  if (!r.succeeded) {
    return absl::AbortedError(
        absl::StrCat("entry ", id, " changed meanwhile; retry"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Entry> ServerStore::GetEntry(const std::string& id) {
  if (!ValidEntryId(id)) return InvalidEntryId(id);
  absl::StatusOr<KeyValue> id_kv = kv_.Get(EntryIdKey(id));
  if (absl::IsNotFound(id_kv.status())) {
    return absl::NotFoundError(absl::StrCat("no entry ", id));
  }
  if (!id_kv.ok()) return id_kv.status();
  absl::StatusOr<KeyValue> kv = kv_.Get(EntryKey(id_kv->value, id));
  if (absl::IsNotFound(kv.status())) {
    return absl::NotFoundError(absl::StrCat("no entry ", id));
  }
  if (!kv.ok()) return kv.status();
  return EntryFrom(*kv);
}

absl::StatusOr<v1::Entry> ServerStore::GetEntryOfParent(
    const std::string& parent_id, const std::string& id) {
  if (!ValidEntryId(id)) return InvalidEntryId(id);
  absl::StatusOr<KeyValue> kv = kv_.Get(EntryKey(parent_id, id));
  if (absl::IsNotFound(kv.status())) {
    return absl::NotFoundError(
        absl::StrCat("no entry ", id, " under parent ", parent_id));
  }
  if (!kv.ok()) return kv.status();
  return EntryFrom(*kv);
}

absl::StatusOr<v1::ListEntriesResponse> ServerStore::ListEntries(
    const std::string& parent_id, const std::string& spiffe_id) {
  ASSIGN_OR_RETURN(RangeResult range,
                   parent_id.empty() ? kv_.Range(kEntriesPrefix, kMaxEntries)
                                     : kv_.Range(EntryParentPrefix(parent_id),
                                                 kMaxEntriesPerParent));
  v1::ListEntriesResponse out;
  out.set_revision(range.revision);
  for (const KeyValue& kv : range.kvs) {
    ASSIGN_OR_RETURN(v1::Entry e, EntryFrom(kv));
    if (!spiffe_id.empty() && e.spiffe_id() != spiffe_id) continue;
    *out.add_entries() = std::move(e);
  }
  return out;
}

absl::Status ServerStore::PutJoinToken(const std::string& sha256_hex,
                                       const v1::JoinTokenRecord& record) {
  if (record.aliases_size() > kMaxAliases) {
    return absl::InvalidArgumentError(
        absl::StrCat("aliases: at most ", kMaxAliases));
  }
  ASSIGN_OR_RETURN(
      TxnResult r,
      kv_.Txn({{absl::StrCat(kTokensPrefix, sha256_hex), 0}},
              {{Op::Kind::kPut, absl::StrCat(kTokensPrefix, sha256_hex),
                record.SerializeAsString()}}));
  if (!r.succeeded) return absl::AlreadyExistsError("join token exists");
  return absl::OkStatus();
}

absl::StatusOr<v1::Agent> ServerStore::ConsumeJoinToken(
    const std::string& sha256_hex, v1::Agent agent) {
  const std::string key = absl::StrCat(kTokensPrefix, sha256_hex);
  absl::StatusOr<KeyValue> kv = kv_.Get(key);
  if (absl::IsNotFound(kv.status())) {
    return absl::PermissionDeniedError("join token unknown or already used");
  }
  if (!kv.ok()) return kv.status();
  ASSIGN_OR_RETURN(v1::JoinTokenRecord record, Parse<v1::JoinTokenRecord>(*kv));
  if (absl::FromUnixSeconds(record.expires_at_unix()) <= clock_.Now()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "join token expired at ",
        absl::FormatTime(absl::FromUnixSeconds(record.expires_at_unix()))));
  }
  *agent.mutable_aliases() = record.aliases();
  ASSIGN_OR_RETURN(
      TxnResult r,
      kv_.Txn({{key, kv->mod_revision}, {AgentKey(agent.spiffe_id()), 0}},
              {{Op::Kind::kDelete, key, ""},
               {Op::Kind::kPut, AgentKey(agent.spiffe_id()),
                agent.SerializeAsString()}}));
  if (!r.succeeded) {
    return absl::PermissionDeniedError("join token unknown or already used");
  }
  return agent;
}

absl::StatusOr<v1::Agent> ServerStore::GetAgent(const std::string& agent_id) {
  absl::StatusOr<KeyValue> kv = kv_.Get(AgentKey(agent_id));
  if (absl::IsNotFound(kv.status())) {
    return absl::NotFoundError(absl::StrCat("no agent ", agent_id));
  }
  if (!kv.ok()) return kv.status();
  return Parse<v1::Agent>(*kv);
}

absl::StatusOr<v1::Agent> ServerStore::ModifyAgent(
    const std::string& agent_id,
    const std::function<absl::Status(v1::Agent&)>& change) {
  for (int attempt = 0; attempt < kTxnAttempts; ++attempt) {
    absl::StatusOr<KeyValue> kv = kv_.Get(AgentKey(agent_id));
    if (absl::IsNotFound(kv.status())) {
      return absl::NotFoundError(absl::StrCat("no agent ", agent_id));
    }
    if (!kv.ok()) return kv.status();
    ASSIGN_OR_RETURN(v1::Agent agent, Parse<v1::Agent>(*kv));
    RETURN_IF_ERROR(change(agent));
    ASSIGN_OR_RETURN(
        TxnResult r,
        kv_.Txn({{kv->key, kv->mod_revision}},
                {{Op::Kind::kPut, kv->key, agent.SerializeAsString()}}));
    if (r.succeeded) return agent;
  }
  return absl::AbortedError(
      absl::StrCat("agent ", agent_id, " kept changing; retry"));
}

absl::StatusOr<v1::Agent> ServerStore::UpsertAttestedAgent(v1::Agent agent) {
  for (int attempt = 0; attempt < kTxnAttempts; ++attempt) {
    absl::StatusOr<v1::Agent> existing = GetAgent(agent.spiffe_id());
    int64_t mod_revision = 0;
    if (existing.ok()) {
      if (existing->evicted()) {
        return absl::PermissionDeniedError(
            absl::StrCat("agent ", agent.spiffe_id(), " is evicted"));
      }
      ASSIGN_OR_RETURN(KeyValue kv, kv_.Get(AgentKey(agent.spiffe_id())));
      mod_revision = kv.mod_revision;
    } else if (!absl::IsNotFound(existing.status())) {
      return existing.status();
    }
    ASSIGN_OR_RETURN(TxnResult r,
                     kv_.Txn({{AgentKey(agent.spiffe_id()), mod_revision}},
                             {{Op::Kind::kPut, AgentKey(agent.spiffe_id()),
                               agent.SerializeAsString()}}));
    if (r.succeeded) return agent;
  }
  return absl::AbortedError("agent record kept changing; retry");
}

absl::Status ServerStore::RecordAgentSvid(const std::string& agent_id,
                                          const std::string& serial,
                                          int64_t not_after) {
  return ModifyAgent(agent_id,
                     [&](v1::Agent& a) {
                       if (a.evicted()) {
                         return absl::PermissionDeniedError(
                             absl::StrCat("agent ", agent_id, " is evicted"));
                       }
                       a.set_svid_serial(serial);
                       a.set_svid_not_after_unix(not_after);
                       return absl::OkStatus();
                     })
      .status();
}

absl::StatusOr<std::vector<v1::Agent>> ServerStore::ListAgents() {
  ASSIGN_OR_RETURN(RangeResult range, kv_.Range(kAgentsPrefix, kMaxAgents));
  std::vector<v1::Agent> out;
  for (const KeyValue& kv : range.kvs) {
    ASSIGN_OR_RETURN(v1::Agent a, Parse<v1::Agent>(kv));
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<v1::Agent> ServerStore::EvictAgent(const std::string& agent_id) {
  return ModifyAgent(agent_id, [](v1::Agent& a) {
    a.set_evicted(true);
    return absl::OkStatus();
  });
}

}  // namespace mayfly::server
