// Server mode, the agent's own identity: attestation (join token or
// x509pop) and the agent SVID's renewal. See server_agent.h.
#include <openssl/x509v3.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "identity/agent/remote/server_agent.h"
#include "identity/agent/remote/x509pop.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::agent::remote {
namespace {

namespace pb = ::mayfly::server::v1;

// The agent SVID renews at half its life, as every SVID does.
constexpr double kIdentityRenewFraction = 0.5;

std::string TimeText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

std::string ChainPem(
    const google::protobuf::RepeatedPtrField<std::string>& chain) {
  std::string der;
  for (const std::string& cert : chain) der += cert;
  absl::StatusOr<identity::CertChain> certs = identity::CertsFromDer(der);
  return certs.ok() ? identity::CertsToPem(*certs) : std::string();
}

}  // namespace

std::string SigningRootId(
    const google::protobuf::RepeatedPtrField<std::string>& chain) {
  if (chain.empty()) return "";
  absl::StatusOr<identity::CertChain> top =
      identity::CertsFromDer(*chain.rbegin());
  if (!top.ok() || top->empty()) return "";
  X509& cert = *top->back();
  // The root's key ID when the chain names it (mayfly's intermediates
  // do); else its name, which cannot tell two roots of one name apart.
  if (const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(&cert)) {
    return absl::StrCat(
        "akid:", absl::string_view(
                     reinterpret_cast<const char*>(ASN1_STRING_get0_data(akid)),
                     ASN1_STRING_length(akid)));
  }
  char name[256];
  X509_NAME_oneline(X509_get_issuer_name(&cert), name, sizeof(name));
  return absl::StrCat("name:", name);
}

void ServerAgent::NoteSigningRoot(const pb::SignX509Response& response) {
  for (const pb::SignX509Result& result : response.results()) {
    if (result.chain().empty()) continue;
    const std::string root = SigningRootId(result.chain());
    absl::MutexLock lock(&mu_);
    if (root.empty() || !has_identity_ || root == identity_root_id_ ||
        identity_renew_at_ <= clock_.Now()) {
      return;
    }
    // The server signs under another root than the agent SVID's: a root
    // rotation. Renew now, so the agent SVID does not depend on the old
    // root once the store's bundle drops it.
    identity_renew_at_ = clock_.Now();
    LogInfo("agent_svid_renewal_for_new_root", {});
    return;
  }
}

absl::StatusOr<std::string> ServerAgent::JoinToken() const {
  const ServerConfig& server = *config_.server;
  if (!server.join_token.empty()) return server.join_token;
  ASSIGN_OR_RETURN(std::string text,
                   identity::ReadFile(server.join_token_file));
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::Status ServerAgent::EnsureIdentity() {
  {
    absl::MutexLock lock(&mu_);
    if (has_identity_ && identity_not_after_ > clock_.Now()) {
      return absl::OkStatus();
    }
  }
  const ServerConfig& server = *config_.server;
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::GenerateKey(identity::kDefaultKeyType));
  // The server names the agent; the CSR only carries the key.
  ASSIGN_OR_RETURN(
      identity::SpiffeId placeholder,
      identity::SpiffeId::FromString(absl::StrCat(
          "spiffe://", config_.trust_domain.name(), "/mayfly/agent")));
  pb::AttestRequest first;
  ASSIGN_OR_RETURN(*first.mutable_csr(),
                   identity::MakeSvidCsrDer(*key, placeholder, {}));
  identity::UniqueEvpPkey node_key;
  if (server.x509pop_cert.empty()) {
    ASSIGN_OR_RETURN(std::string token, JoinToken());
    first.mutable_join_token()->set_token(token);
  } else {
    ASSIGN_OR_RETURN(std::string cert_pem,
                     identity::ReadFile(server.x509pop_cert));
    ASSIGN_OR_RETURN(identity::CertChain chain,
                     identity::CertsFromPem(cert_pem));
    for (const auto& cert : chain) {
      identity::CertChain one;
      one.push_back(identity::ShareCert(cert.get()));
      first.mutable_x509pop()->add_chain(identity::CertsToDer(one));
    }
    ASSIGN_OR_RETURN(std::string key_pem,
                     identity::ReadFile(server.x509pop_key));
    ASSIGN_OR_RETURN(node_key, identity::PrivateKeyFromPem(key_pem));
  }
  absl::StatusOr<pb::AgentSvid> svid = connection_->Attest(
      first, [&](const std::string& nonce) -> absl::StatusOr<std::string> {
        if (node_key == nullptr) {
          return absl::FailedPreconditionError(
              "the server sent an x509pop challenge to a join-token agent");
        }
        return SignX509PopChallenge(*node_key, nonce);
      });
  // A refused attestation (a used or unknown token) is not an eviction:
  // the sync loop tries again, with backoff, should the token be replaced.
  if (svid.status().code() == absl::StatusCode::kPermissionDenied) {
    LogError("attestation_refused",
             {{"error", std::string(svid.status().message())}});
    return svid.status();
  }
  Observe(svid.status());
  if (!svid.ok()) return svid.status();
  RETURN_IF_ERROR(AdoptIdentity(*svid, *key));
  {
    absl::MutexLock lock(&mu_);
    identity_renewed_at_ = clock_.Now();
  }
  LogInfo(
      "agent_attested",
      {{"spiffe_id", svid->spiffe_id()},
       {"server", connection_->CurrentAddress()},
       {"expires", TimeText(absl::FromUnixSeconds(svid->not_after_unix()))}});
  return absl::OkStatus();
}

absl::Status ServerAgent::AdoptIdentity(const pb::AgentSvid& svid,
                                        const EVP_PKEY& key) {
  const std::string chain_pem = ChainPem(svid.chain());
  if (chain_pem.empty()) {
    return absl::InternalError("mayfly-server sent an unreadable agent SVID");
  }
  ASSIGN_OR_RETURN(std::string key_pem, identity::PrivateKeyToPkcs8Pem(key));
  cachepb::AgentIdentity saved;
  ASSIGN_OR_RETURN(*saved.mutable_key_der(),
                   identity::PrivateKeyToPkcs8Der(key));
  *saved.mutable_chain() = svid.chain();
  saved.set_spiffe_id(svid.spiffe_id());
  saved.set_not_after_unix(svid.not_after_unix());
  RETURN_IF_ERROR(cache_->SaveAgent(saved));
  connection_->SetAgentSvid(chain_pem, key_pem);
  const absl::Time now = clock_.Now();
  const absl::Time not_after = absl::FromUnixSeconds(svid.not_after_unix());
  absl::MutexLock lock(&mu_);
  has_identity_ = true;
  agent_id_ = svid.spiffe_id();
  identity_not_after_ = not_after;
  identity_renew_at_ = now + (not_after - now) * kIdentityRenewFraction;
  identity_root_id_ = SigningRootId(svid.chain());
  return absl::OkStatus();
}

absl::Status ServerAgent::RenewIdentity() {
  std::string agent_id;
  {
    absl::MutexLock lock(&mu_);
    if (!has_identity_ || !evicted_.empty() ||
        clock_.Now() < identity_renew_at_) {
      return absl::OkStatus();
    }
    agent_id = agent_id_;
  }
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::GenerateKey(identity::kDefaultKeyType));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(agent_id));
  pb::RenewAgentRequest request;
  ASSIGN_OR_RETURN(*request.mutable_csr(),
                   identity::MakeSvidCsrDer(*key, id, {}));
  absl::StatusOr<pb::AgentSvid> svid = connection_->RenewAgent(request);
  Observe(svid.status());
  if (!svid.ok()) return svid.status();
  RETURN_IF_ERROR(AdoptIdentity(*svid, *key));
  {
    absl::MutexLock lock(&mu_);
    identity_renewed_at_ = clock_.Now();
  }
  LogInfo(
      "agent_svid_renewed",
      {{"spiffe_id", svid->spiffe_id()},
       {"expires", TimeText(absl::FromUnixSeconds(svid->not_after_unix()))}});
  return absl::OkStatus();
}

}  // namespace mayfly::agent::remote
