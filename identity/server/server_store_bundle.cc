// ServerStore: the trust bundle key (/mayfly/v1/bundle), shared by every
// replica. Each change is a read, a change in memory and a Txn that writes
// only if the key's mod_revision is still the one read; a replica that
// loses the race reads again and re-applies its change, so no replica's
// write is lost to another's.
#include <set>

#include "absl/strings/str_cat.h"
#include "identity/jwt.h"
#include "identity/server/server_store.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

// The bundle as stored and the mod_revision to compare on (0: no key yet).
struct StoredBundle {
  v1::Bundle bundle;
  int64_t mod_revision = 0;
};

absl::StatusOr<StoredBundle> ReadBundle(KvStore& kv,
                                        const identity::TrustDomain& td) {
  absl::StatusOr<KeyValue> stored = kv.Get(kBundleKey);
  StoredBundle out;
  out.bundle.set_trust_domain(td.name());
  if (absl::IsNotFound(stored.status())) return out;
  if (!stored.ok()) return stored.status();
  if (!out.bundle.ParseFromString(stored->value)) {
    return absl::DataLossError(
        absl::StrCat("store key ", kBundleKey, " does not parse"));
  }
  out.mod_revision = stored->mod_revision;
  return out;
}

absl::StatusOr<bool> WriteIfUnchanged(KvStore& kv, const StoredBundle& b) {
  ASSIGN_OR_RETURN(
      TxnResult r,
      kv.Txn({{kBundleKey, b.mod_revision}},
             {{Op::Kind::kPut, kBundleKey, b.bundle.SerializeAsString()}}));
  return r.succeeded;
}

}  // namespace

absl::StatusOr<v1::Bundle> ServerStore::GetBundle() {
  ASSIGN_OR_RETURN(StoredBundle b, ReadBundle(kv_, td_));
  return std::move(b.bundle);
}

absl::Status ServerStore::PublishToBundle(
    const std::vector<std::string>& roots_der,
    const identity::JwtSigningKey& jwt_key) {
  for (int attempt = 0; attempt < kTxnAttempts; ++attempt) {
    ASSIGN_OR_RETURN(StoredBundle b, ReadBundle(kv_, td_));
    v1::Bundle& bundle = b.bundle;
    bool changed = false;
    std::set<std::string> have(bundle.x509_roots().begin(),
                               bundle.x509_roots().end());
    for (const std::string& root : roots_der) {
      if (have.insert(root).second) {
        bundle.add_x509_roots(root);
        changed = true;
      }
    }
    identity::JwtBundle jwt(td_);
    if (!bundle.jwt_jwks().empty()) {
      ASSIGN_OR_RETURN(jwt,
                       identity::JwtBundle::FromJwks(td_, bundle.jwt_jwks()));
    }
    if (jwt.FindKey(jwt_key.key_id) == nullptr) {
      jwt.AddKey(jwt_key.key_id, *jwt_key.key);
      ASSIGN_OR_RETURN(*bundle.mutable_jwt_jwks(), jwt.ToJwks());
      changed = true;
    }
    if (!changed) return absl::OkStatus();
    ASSIGN_OR_RETURN(bool written, WriteIfUnchanged(kv_, b));
    if (written) return absl::OkStatus();
  }
  return absl::AbortedError("bundle kept changing; retry");
}

// Why this cannot remove another replica's live root: a root is matched by
// its whole DER (so by its SHA-256 too), and the caller passes only the
// root it retired from its own CA directory. A root certificate carries
// its own key and serial: another replica's root is a different DER unless
// that replica shares this CA directory, in which case it shares the
// rotation and retired the same root. Every other root and the JWKS are
// written back byte for byte, and the Txn compares the key's mod_revision,
// so a root another replica adds meanwhile is not lost: the loser reads
// again and removes the one root from what is there then.
absl::StatusOr<bool> ServerStore::RemoveRootFromBundle(
    const std::string& root_der) {
  for (int attempt = 0; attempt < kTxnAttempts; ++attempt) {
    ASSIGN_OR_RETURN(StoredBundle b, ReadBundle(kv_, td_));
    google::protobuf::RepeatedPtrField<std::string> kept;
    for (const std::string& root : b.bundle.x509_roots()) {
      if (root != root_der) *kept.Add() = root;
    }
    if (kept.size() == b.bundle.x509_roots_size()) return false;
    *b.bundle.mutable_x509_roots() = std::move(kept);
    ASSIGN_OR_RETURN(bool written, WriteIfUnchanged(kv_, b));
    if (written) return true;
  }
  return absl::AbortedError("bundle kept changing; retry");
}

}  // namespace mayfly::server
