// The Registration API over ServerStore, with the admin check for TLS.
#include "identity/server/registration_service.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/server/peer_auth.h"
#include "identity/status_macros.h"

namespace mayfly::server {

absl::Status RegistrationService::Authorize(
    const grpc::ServerContext& context) const {
  if (!options_.require_admin_svid) return absl::OkStatus();
  ASSIGN_OR_RETURN(identity::X509Bundle bundle, options_.bundle());
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   PeerSpiffeId(context, bundle, clock_.Now()));
  if (options_.admin_ids.count(id.ToString()) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(id.ToString(), " is not in admin_ids"));
  }
  return absl::OkStatus();
}

grpc::Status RegistrationService::Call(
    const grpc::ServerContext& context, absl::string_view method,
    const std::function<absl::Status()>& body) const {
  absl::Status s = Authorize(context);
  if (s.ok()) s = body();
  if (!s.ok()) {
    LogWarn("registration_refused",
            {{"method", std::string(method)},
             {"code", absl::StatusCodeToString(s.code())},
             {"error", std::string(s.message())}});
  } else {
    LogInfo("registration", {{"method", std::string(method)}});
  }
  return ToGrpc(s);
}

grpc::Status RegistrationService::CreateEntry(grpc::ServerContext* context,
                                              const v1::Entry* request,
                                              v1::Entry* response) {
  return Call(*context, "CreateEntry", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_.CreateEntry(*request));
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::UpdateEntry(grpc::ServerContext* context,
                                              const v1::Entry* request,
                                              v1::Entry* response) {
  return Call(*context, "UpdateEntry", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_.UpdateEntry(*request));
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::DeleteEntry(
    grpc::ServerContext* context, const v1::EntryId* request,
    v1::DeleteEntryResponse* /*response*/) {
  return Call(*context, "DeleteEntry",
              [&] { return store_.DeleteEntry(request->id()); });
}

grpc::Status RegistrationService::GetEntry(grpc::ServerContext* context,
                                           const v1::EntryId* request,
                                           v1::Entry* response) {
  return Call(*context, "GetEntry", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_.GetEntry(request->id()));
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::ListEntries(
    grpc::ServerContext* context, const v1::ListEntriesRequest* request,
    v1::ListEntriesResponse* response) {
  return Call(*context, "ListEntries", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_.ListEntries(request->parent_id(),
                                                   request->spiffe_id()));
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::CreateJoinToken(
    grpc::ServerContext* context, const v1::CreateJoinTokenRequest* request,
    v1::CreateJoinTokenResponse* response) {
  return Call(*context, "CreateJoinToken", [&]() -> absl::Status {
    const absl::Duration ttl = request->ttl_seconds() == 0
                                   ? options_.join_token_ttl
                                   : absl::Seconds(request->ttl_seconds());
    if (ttl <= absl::ZeroDuration() || ttl > kMaxJoinTokenTtl) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ttl_seconds: ", request->ttl_seconds(), " is outside 1..",
          absl::ToInt64Seconds(kMaxJoinTokenTtl)));
    }
    v1::JoinTokenRecord record;
    for (int i = 0; i < request->aliases_size(); ++i) {
      absl::StatusOr<identity::SpiffeId> alias =
          identity::SpiffeId::FromString(request->aliases(i));
      if (!alias.ok() || !alias->MemberOf(options_.trust_domain)) {
        return absl::InvalidArgumentError(
            absl::StrCat("aliases[", i, "]: want a SPIFFE ID in trust domain ",
                         options_.trust_domain.name()));
      }
      record.add_aliases(request->aliases(i));
    }
    unsigned char bytes[kJoinTokenBytes];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    const std::string token = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
           digest);
    const std::string hash = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
    const absl::Time expires = clock_.Now() + ttl;
    record.set_expires_at_unix(absl::ToUnixSeconds(expires));
    RETURN_IF_ERROR(store_.PutJoinToken(hash, record));
    response->set_token(token);
    response->set_agent_id(absl::StrCat(options_.trust_domain.IdString(),
                                        kAgentPathPrefix, "join_token/",
                                        hash.substr(0, 32)));
    response->set_expires_at_unix(absl::ToUnixSeconds(expires));
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::ListAgents(
    grpc::ServerContext* context, const v1::ListAgentsRequest* /*request*/,
    v1::ListAgentsResponse* response) {
  return Call(*context, "ListAgents", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<v1::Agent> agents, store_.ListAgents());
    for (v1::Agent& a : agents) *response->add_agents() = std::move(a);
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::EvictAgent(grpc::ServerContext* context,
                                             const v1::AgentId* request,
                                             v1::Agent* response) {
  return Call(*context, "EvictAgent", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, store_.EvictAgent(request->spiffe_id()));
    LogWarn("agent_evicted", {{"agent_id", request->spiffe_id()}});
    return absl::OkStatus();
  });
}

grpc::Status RegistrationService::PruneBundle(
    grpc::ServerContext* context, const v1::PruneBundleRequest* request,
    v1::PruneBundleResponse* response) {
  return Call(*context, "PruneBundle", [&]() -> absl::Status {
    if (request->keep_roots().empty()) {
      return absl::InvalidArgumentError(
          "keep_roots is empty: a bundle with no root trusts nothing");
    }
    std::set<std::string> keep;
    for (const std::string& der : request->keep_roots()) {
      absl::StatusOr<identity::CertChain> cert = identity::CertsFromDer(der);
      if (!cert.ok() || cert->size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "keep_roots[", keep.size(), "] is not one DER certificate"));
      }
      keep.insert(der);
    }
    const std::string signing =
        options_.signing_root ? options_.signing_root() : std::string();
    if (!signing.empty() && keep.count(signing) == 0) {
      return absl::FailedPreconditionError(
          "keep_roots lacks the root this replica signs under; switch every "
          "replica to the new root first");
    }
    ASSIGN_OR_RETURN(v1::Bundle bundle, store_.GetBundle());
    for (const std::string& der : bundle.x509_roots()) {
      if (keep.count(der) != 0) continue;
      ASSIGN_OR_RETURN(bool removed, store_.RemoveRootFromBundle(der));
      if (removed) response->add_removed(der);
    }
    ASSIGN_OR_RETURN(bundle, store_.GetBundle());
    *response->mutable_roots() = bundle.x509_roots();
    LogInfo("bundle_pruned",
            {{"removed", absl::StrCat(response->removed_size())},
             {"roots", absl::StrCat(response->roots_size())}});
    return absl::OkStatus();
  });
}

grpc::Status RefusingRegistration::Refuse() {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "the calling uid is not in the server's admin_uids");
}
grpc::Status RefusingRegistration::CreateEntry(grpc::ServerContext*,
                                               const v1::Entry*, v1::Entry*) {
  return Refuse();
}
grpc::Status RefusingRegistration::UpdateEntry(grpc::ServerContext*,
                                               const v1::Entry*, v1::Entry*) {
  return Refuse();
}
grpc::Status RefusingRegistration::DeleteEntry(grpc::ServerContext*,
                                               const v1::EntryId*,
                                               v1::DeleteEntryResponse*) {
  return Refuse();
}
grpc::Status RefusingRegistration::GetEntry(grpc::ServerContext*,
                                            const v1::EntryId*, v1::Entry*) {
  return Refuse();
}
grpc::Status RefusingRegistration::ListEntries(grpc::ServerContext*,
                                               const v1::ListEntriesRequest*,
                                               v1::ListEntriesResponse*) {
  return Refuse();
}
grpc::Status RefusingRegistration::CreateJoinToken(
    grpc::ServerContext*, const v1::CreateJoinTokenRequest*,
    v1::CreateJoinTokenResponse*) {
  return Refuse();
}
grpc::Status RefusingRegistration::ListAgents(grpc::ServerContext*,
                                              const v1::ListAgentsRequest*,
                                              v1::ListAgentsResponse*) {
  return Refuse();
}
grpc::Status RefusingRegistration::EvictAgent(grpc::ServerContext*,
                                              const v1::AgentId*, v1::Agent*) {
  return Refuse();
}
grpc::Status RefusingRegistration::PruneBundle(grpc::ServerContext*,
                                               const v1::PruneBundleRequest*,
                                               v1::PruneBundleResponse*) {
  return Refuse();
}

}  // namespace mayfly::server
