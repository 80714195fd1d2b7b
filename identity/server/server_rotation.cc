// MayflyServer: publishing the bundle, and root rotation in ca_dir mode.
//
// The steps are root_rotation.h's, driven from Maintain() instead of the
// agent's loop; each is safe to repeat after a crash, because the state is
// read back from the CA directory each time:
//   prepared  the next root goes into the store's bundle; Sync pushes it to
//             every agent. Once the store has carried it for
//             root_rotation_lead and every open Sync stream on this
//             replica has been sent it, Promote, and a new intermediate
//             (and server SVID) under the new root at once.
//   retiring  at drop_after, the retired root leaves the store's bundle,
//             then the CA directory.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "identity/ca.h"
#include "identity/file_util.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/root_rotation.h"
#include "identity/server/server.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

using Phase = identity::RootRotationState::Phase;

// The one certificate in `dir`/`name`, DER.
absl::StatusOr<std::string> ReadCertDer(const std::string& dir,
                                        absl::string_view name) {
  const std::string path = identity::CaPath(dir, name);
  ASSIGN_OR_RETURN(std::string pem, identity::ReadFile(path));
  ASSIGN_OR_RETURN(identity::CertChain certs, identity::CertsFromPem(pem));
  if (certs.size() != 1) {
    return absl::DataLossError(
        absl::StrCat(path, ": must hold exactly one certificate"));
  }
  return identity::CertToDer(*certs[0]);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

}  // namespace

absl::Status MayflyServer::PublishToStore() {
  std::shared_ptr<const SigningMaterial> m = signer_->Current();
  // The root in force first: a replica never signs under a root missing
  // from the store's bundle, whatever its files say now.
  std::vector<std::string> roots = {m->root_der};
  // The bundle file, not the signer's snapshot: a prepared root is there
  // before anything is signed by it, and must reach the store first.
  identity::X509Bundle bundle(config_.trust_domain);
  if (!config_.signing.step_ca.url.empty()) {
    // Upstream mode: the roots the upstream CA sent with the chain (no
    // bundle file; its rotation is the upstream's).
    for (const identity::UniqueX509& r : m->roots.roots()) {
      std::string der = identity::CertToDer(*r);
      if (der != m->root_der) roots.push_back(std::move(der));
    }
    return store_->PublishToBundle(roots, m->jwt_key);
  }
  if (config_.signing.ca_dir.empty()) {
    ASSIGN_OR_RETURN(std::string pem,
                     identity::ReadFile(config_.signing.bundle));
    absl::StatusOr<identity::X509Bundle> read =
        identity::X509Bundle::FromPem(config_.trust_domain, pem);
    if (!read.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_.signing.bundle, ": ", read.status().message()));
    }
    bundle = *std::move(read);
  } else {
    ASSIGN_OR_RETURN(bundle, identity::ReadCaBundle(config_.signing.ca_dir));
  }
  for (const identity::UniqueX509& r : bundle.roots()) {
    std::string der = identity::CertToDer(*r);
    if (der != m->root_der) roots.push_back(std::move(der));
  }
  return store_->PublishToBundle(roots, m->jwt_key);
}

absl::StatusOr<bool> MayflyServer::SwitchDue(const std::string& next) {
  RETURN_IF_ERROR(PublishToStore());
  ASSIGN_OR_RETURN(v1::Bundle stored, store_->GetBundle());
  if (std::find(stored.x509_roots().begin(), stored.x509_roots().end(), next) ==
      stored.x509_roots().end()) {
    return absl::InternalError("the next root is not in the store's bundle");
  }
  const absl::Duration now = clock_.Monotonic();
  if (rotation_next_der_ != next) {
    ASSIGN_OR_RETURN(KeyValue kv, store_->kv().Get(kBundleKey));
    rotation_next_der_ = next;
    rotation_seen_at_ = now;
    rotation_revision_ = kv.mod_revision;
    LogInfo("root_rotation_bundle_published",
            {{"lead", absl::FormatDuration(config_.root_rotation_lead)},
             {"revision", absl::StrCat(rotation_revision_)}});
  }
  if (now < rotation_seen_at_ + config_.root_rotation_lead) return false;
  // A stream that is slow to take its state (or a Sync cut short) holds the
  // switch back; an agent that is not connected gets the bundle as its
  // stream's first message when it reconnects.
  if (const int behind = node_->delivery().BehindRevision(rotation_revision_);
      behind > 0) {
    LogInfo("root_rotation_waiting_for_sync",
            {{"streams_behind", absl::StrCat(behind)}});
    return false;
  }
  rotation_next_der_.clear();
  return true;
}

absl::StatusOr<bool> MayflyServer::AdvanceIntermediate() {
  ASSIGN_OR_RETURN(std::shared_ptr<const SigningMaterial> next,
                   signer_->Load());
  std::shared_ptr<const SigningMaterial> current = signer_->Current();
  if (X509_cmp(next->signer.cert.get(), current->signer.cert.get()) == 0 &&
      next->roots.ToDer() == current->roots.ToDer()) {
    return false;
  }
  if (next->root_der != current->root_der) {
    // An intermediate under another root (a fleet-wide rotation,
    // docs/server-admin.md): the agents must have that root first.
    ASSIGN_OR_RETURN(bool due, SwitchDue(next->root_der));
    if (!due) return false;
    LogInfo("root_rotation_switched",
            {{"intermediate_not_after", Rfc3339(next->signer.NotAfter())}});
  }
  signer_->Install(std::move(next));
  return true;
}

absl::StatusOr<bool> MayflyServer::AdvanceRootRotation() {
  const std::string& dir = config_.signing.ca_dir;
  ASSIGN_OR_RETURN(identity::RootRotationState state,
                   identity::InspectRootRotation(dir));
  if (state.phase == Phase::kRetiring && clock_.Now() >= state.drop_after) {
    ASSIGN_OR_RETURN(std::string retired,
                     ReadCertDer(dir, identity::kRetiredRootCertFile));
    // The store first: while retired_root_cert.pem exists the drop is
    // pending, so a crash between the two steps repeats both.
    ASSIGN_OR_RETURN(bool removed, store_->RemoveRootFromBundle(retired));
    RETURN_IF_ERROR(identity::DropRetiredRoot(dir));
    LogInfo("root_rotation_old_root_dropped",
            {{"removed_from_store", removed ? "true" : "false"}});
    // The signer's roots (what peers are checked against) lose it too.
    RETURN_IF_ERROR(signer_->Renew());
    return true;
  }
  if (state.phase != Phase::kPrepared) {
    // A Promote whose renewal failed (or a crash between the two) leaves
    // the signer under the old root: renew now rather than at half-life.
    ASSIGN_OR_RETURN(std::string root,
                     ReadCertDer(dir, identity::kRootCertFile));
    if (root == signer_->Current()->root_der) return false;
    RETURN_IF_ERROR(signer_->Renew());
    return true;
  }

  // Prepared: the next root must be in the store's bundle before the lead
  // starts (a crash in Prepare may have left it out of bundle.pem).
  RETURN_IF_ERROR(identity::EnsureNextRootInBundle(dir).status());
  ASSIGN_OR_RETURN(std::string next,
                   ReadCertDer(dir, identity::kNextRootCertFile));
  ASSIGN_OR_RETURN(bool due, SwitchDue(next));
  if (!due) return false;

  // Leaves are capped by their intermediate, so the current one outlives
  // everything the old root signed through this replica.
  const absl::Time drop_after = signer_->Current()->signer.NotAfter();
  RETURN_IF_ERROR(identity::PromoteNextRoot(dir, drop_after));
  LogInfo("root_rotation_switched",
          {{"old_root_dropped_after", Rfc3339(drop_after)}});
  RETURN_IF_ERROR(signer_->Renew());
  return true;
}

}  // namespace mayfly::server
