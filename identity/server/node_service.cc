// Node API: agent renewal, Sync, SignX509 and SignJwt (Attest is in
// node_attest.cc).
#include "identity/server/node_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "identity/jwt.h"
#include "identity/log/log.h"
#include "identity/server/entry_rules.h"
#include "identity/server/peer_auth.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

// How often a waiting Sync stream checks whether its client went away. The
// state itself is pushed on change, never polled.
constexpr absl::Duration kSyncCancelCheck = absl::Milliseconds(500);

void LogRefusal(absl::string_view what, const std::string& agent_id,
                const std::string& entry_id, const absl::Status& status) {
  LogWarn(what, {{"agent_id", agent_id},
                 {"entry_id", entry_id},
                 {"code", absl::StatusCodeToString(status.code())},
                 {"error", std::string(status.message())}});
}

}  // namespace

bool AgentMayServe(const v1::Agent& agent, const v1::Entry& entry) {
  if (entry.parent_id() == agent.spiffe_id()) return true;
  for (const std::string& alias : agent.aliases()) {
    if (entry.parent_id() == alias) return true;
  }
  return false;
}

NodeService::NodeService(NodeOptions options, ServerStore& store,
                         StoreCache& cache, const ReplicaSigner& signer,
                         const identity::Clock& clock)
    : options_(std::move(options)),
      store_(store),
      cache_(cache),
      signer_(signer),
      clock_(clock) {}

NodeService::Counters NodeService::GetCounters() const {
  absl::MutexLock lock(&streams_mu_);
  return {svids_signed_.load(), sign_refusals_.load(), open_sync_streams_};
}

absl::StatusOr<identity::X509Bundle> NodeService::TrustBundle() const {
  return X509BundleOf(options_.trust_domain, cache_.ViewFor("").bundle,
                      signer_.Current()->roots);
}

absl::StatusOr<v1::Agent> NodeService::CallingAgent(
    const grpc::ServerContext& context) {
  ASSIGN_OR_RETURN(identity::X509Bundle bundle, TrustBundle());
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   PeerSpiffeId(context, bundle, clock_.Now()));
  if (!absl::StartsWith(id.path(), kAgentPathPrefix)) {
    return absl::PermissionDeniedError(
        absl::StrCat(id.ToString(), " is not an agent ID"));
  }
  absl::StatusOr<v1::Agent> agent = store_.GetAgent(id.ToString());
  if (absl::IsNotFound(agent.status())) {
    return absl::PermissionDeniedError(
        absl::StrCat("agent ", id.ToString(), " is not attested"));
  }
  if (!agent.ok()) return agent.status();
  if (agent->evicted()) {
    return absl::PermissionDeniedError(
        absl::StrCat("agent ", id.ToString(), " is evicted"));
  }
  return agent;
}

grpc::Status NodeService::RenewAgent(grpc::ServerContext* context,
                                     const v1::RenewAgentRequest* request,
                                     v1::AgentSvid* response) {
  absl::StatusOr<v1::Agent> agent = CallingAgent(*context);
  if (!agent.ok()) {
    LogRefusal("renew_agent_refused", "", "", agent.status());
    return ToGrpc(agent.status());
  }
  absl::StatusOr<v1::AgentSvid> svid =
      SignAgentSvid(agent->spiffe_id(), request->csr());
  if (!svid.ok()) {
    LogRefusal("renew_agent_refused", agent->spiffe_id(), "", svid.status());
    return ToGrpc(svid.status());
  }
  *response = *std::move(svid);
  LogInfo("agent_renewed", {{"agent_id", agent->spiffe_id()}});
  return grpc::Status::OK;
}

grpc::Status NodeService::Sync(grpc::ServerContext* context,
                               const v1::SyncRequest* /*request*/,
                               grpc::ServerWriter<v1::SyncResponse>* writer) {
  absl::StatusOr<v1::Agent> agent = CallingAgent(*context);
  if (!agent.ok()) {
    LogRefusal("sync_refused", "", "", agent.status());
    return ToGrpc(agent.status());
  }
  const std::string agent_id = agent->spiffe_id();
  {
    absl::MutexLock lock(&streams_mu_);
    if (sync_streams_[agent_id] >= kMaxSyncStreamsPerAgent) {
      const absl::Status s = absl::ResourceExhaustedError(
          absl::StrCat("agent ", agent_id, " already has ",
                       kMaxSyncStreamsPerAgent, " Sync streams open"));
      LogRefusal("sync_refused", agent_id, "", s);
      return ToGrpc(s);
    }
    ++sync_streams_[agent_id];
    ++open_sync_streams_;
  }
  std::shared_ptr<Subscription> sub = cache_.Subscribe(agent_id);
  const SyncDelivery::StreamId delivery_id = delivery_.Open();
  grpc::Status result = grpc::Status::OK;
  bool first = true;
  while (!context->IsCancelled() && !stopping_) {
    if (first || sub->WaitForChange(kSyncCancelCheck)) {
      first = false;
      StoreCache::AgentView view = cache_.ViewFor(agent_id);
      if (view.known && view.agent.evicted()) {
        result = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                              absl::StrCat("agent ", agent_id, " is evicted"));
        LogWarn("sync_ended",
                {{"agent_id", agent_id}, {"error", result.error_message()}});
        break;
      }
      v1::SyncResponse response;
      response.set_revision(view.revision);
      for (v1::Entry& e : view.entries) *response.add_entries() = std::move(e);
      *response.mutable_bundle() = std::move(view.bundle);
      *response.mutable_aliases() = view.agent.aliases();
      if (!writer->Write(response)) break;
      delivery_.Sent(delivery_id, view.revision);
    }
  }
  delivery_.Close(delivery_id);
  cache_.Unsubscribe(sub);
  {
    absl::MutexLock lock(&streams_mu_);
    if (--sync_streams_[agent_id] == 0) sync_streams_.erase(agent_id);
    --open_sync_streams_;
  }
  return result;
}

absl::StatusOr<SignedLeaf> NodeService::SignOne(const v1::Agent& agent,
                                                const v1::CsrForEntry& item) {
  // One store read for the agent's own entries, what nearly every CSR is
  // for; an alias's entry, another agent's (refused below) or an unknown
  // one take GetEntry's two. The fleet bench counts these reads in etcd.
  absl::StatusOr<v1::Entry> found =
      store_.GetEntryOfParent(agent.spiffe_id(), item.entry_id());
  if (absl::IsNotFound(found.status()))
    found = store_.GetEntry(item.entry_id());
  ASSIGN_OR_RETURN(v1::Entry entry, std::move(found));
  if (!AgentMayServe(agent, entry)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "entry ", entry.id(), " is parented to ", entry.parent_id(),
        ", not to agent ", agent.spiffe_id(), " or its aliases"));
  }
  ASSIGN_OR_RETURN(identity::ParsedCsr csr, identity::ParseCsrDer(item.csr()));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(entry.spiffe_id()));
  const std::vector<std::string> dns(entry.dns_names().begin(),
                                     entry.dns_names().end());
  RETURN_IF_ERROR(identity::CheckCsrMatches(csr, id, dns));
  const int64_t entry_ttl = entry.ttl_seconds() != 0
                                ? entry.ttl_seconds()
                                : absl::ToInt64Seconds(options_.default_ttl);
  if (item.ttl_seconds() < 0 || item.ttl_seconds() > entry_ttl) {
    return absl::PermissionDeniedError(
        absl::StrCat("ttl_seconds ", item.ttl_seconds(), " is above entry ",
                     entry.id(), "'s ", entry_ttl));
  }
  const int64_t ttl = item.ttl_seconds() != 0 ? item.ttl_seconds() : entry_ttl;
  identity::X509SvidRequest request{id, absl::Seconds(ttl), dns};
  ASSIGN_OR_RETURN(request.subject, EntrySubject(entry));
  return signer_.SignLeaf(request, *csr.public_key);
}

grpc::Status NodeService::SignX509(grpc::ServerContext* context,
                                   const v1::SignX509Request* request,
                                   v1::SignX509Response* response) {
  absl::StatusOr<v1::Agent> agent = CallingAgent(*context);
  if (!agent.ok()) {
    ++sign_refusals_;
    LogRefusal("sign_x509_refused", "", "", agent.status());
    return ToGrpc(agent.status());
  }
  if (request->csrs_size() > kMaxCsrsPerBatch) {
    const absl::Status s = absl::InvalidArgumentError(
        absl::StrCat(request->csrs_size(), " CSRs in one request; at most ",
                     kMaxCsrsPerBatch));
    ++sign_refusals_;
    LogRefusal("sign_x509_refused", agent->spiffe_id(), "", s);
    return ToGrpc(s);
  }
  int signed_count = 0;
  for (const v1::CsrForEntry& item : request->csrs()) {
    v1::SignX509Result* result = response->add_results();
    result->set_entry_id(item.entry_id());
    absl::StatusOr<SignedLeaf> leaf = SignOne(*agent, item);
    if (!leaf.ok()) {
      result->set_error_code(static_cast<int32_t>(leaf.status().code()));
      result->set_error(std::string(leaf.status().message()));
      ++sign_refusals_;
      LogRefusal("sign_x509_refused", agent->spiffe_id(), item.entry_id(),
                 leaf.status());
      continue;
    }
    for (std::string& der : leaf->chain_der) result->add_chain(std::move(der));
    result->set_not_after_unix(absl::ToUnixSeconds(leaf->not_after));
    ++signed_count;
  }
  svids_signed_ += signed_count;
  LogDebug("sign_x509", {{"agent_id", agent->spiffe_id()},
                         {"signed", absl::StrCat(signed_count)},
                         {"requested", absl::StrCat(request->csrs_size())}});
  return grpc::Status::OK;
}

grpc::Status NodeService::SignJwt(grpc::ServerContext* context,
                                  const v1::SignJwtRequest* request,
                                  v1::SignJwtResponse* response) {
  absl::StatusOr<v1::Agent> agent = CallingAgent(*context);
  if (!agent.ok()) {
    ++sign_refusals_;
    LogRefusal("sign_jwt_refused", "", request->entry_id(), agent.status());
    return ToGrpc(agent.status());
  }
  auto refuse = [&](const absl::Status& s) {
    ++sign_refusals_;
    LogRefusal("sign_jwt_refused", agent->spiffe_id(), request->entry_id(), s);
    return ToGrpc(s);
  };
  absl::StatusOr<v1::Entry> entry = store_.GetEntry(request->entry_id());
  if (!entry.ok()) return refuse(entry.status());
  if (!AgentMayServe(*agent, *entry)) {
    return refuse(absl::PermissionDeniedError(absl::StrCat(
        "entry ", entry->id(), " is parented to ", entry->parent_id(),
        ", not to agent ", agent->spiffe_id(), " or its aliases")));
  }
  if (request->audience().empty() ||
      request->audience_size() > kMaxJwtAudiences) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("audience: 1 to ", kMaxJwtAudiences, " values")));
  }
  for (const std::string& aud : request->audience()) {
    if (aud.empty() || aud.size() > kMaxJwtAudienceBytes) {
      return refuse(absl::InvalidArgumentError(absl::StrCat(
          "audience: each 1 to ", kMaxJwtAudienceBytes, " bytes")));
    }
  }
  const int64_t entry_ttl =
      entry->jwt_ttl_seconds() != 0
          ? entry->jwt_ttl_seconds()
          : absl::ToInt64Seconds(identity::kMaxJwtSvidTtl);
  if (request->ttl_seconds() < 0 || request->ttl_seconds() > entry_ttl) {
    return refuse(absl::PermissionDeniedError(
        absl::StrCat("ttl_seconds ", request->ttl_seconds(), " is above entry ",
                     entry->id(), "'s ", entry_ttl)));
  }
  const int64_t ttl =
      request->ttl_seconds() != 0 ? request->ttl_seconds() : entry_ttl;
  absl::StatusOr<identity::SpiffeId> id =
      identity::SpiffeId::FromString(entry->spiffe_id());
  if (!id.ok()) return refuse(id.status());
  identity::JwtSvidRequest jwt{
      *id,
      {request->audience().begin(), request->audience().end()},
      absl::Seconds(ttl)};
  absl::StatusOr<std::string> token =
      identity::MintJwtSvid(jwt, signer_.Current()->jwt_key, clock_);
  if (!token.ok()) return refuse(token.status());
  response->set_token(*std::move(token));
  response->set_expires_at_unix(
      absl::ToUnixSeconds(clock_.Now() + absl::Seconds(ttl)));
  return grpc::Status::OK;
}

}  // namespace mayfly::server
