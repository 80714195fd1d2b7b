// Node API: Attest (join token, x509pop) and the agent SVIDs it signs.
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/server/node_service.h"
#include "identity/server/peer_auth.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

std::string HexDigest(const EVP_MD* md, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), len));
}

// The node certificate's chain up to a configured node CA, at `now`.
absl::Status VerifyNodeChain(const identity::CertChain& chain,
                             const identity::CertChain& roots, absl::Time now) {
  identity::UniqueX509Store store(X509_STORE_new());
  for (const identity::UniqueX509& r : roots) {
    X509_STORE_add_cert(store.get(), r.get());  // takes its own reference
  }
  identity::UniqueX509Stack untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    // The stack owns what it holds: give it a reference of its own.
    sk_X509_push(untrusted.get(),
                 identity::ShareCert(chain[i].get()).release());
  }
  identity::UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(),
                          untrusted.get()) != 1) {
    return identity::OpenSslError("X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             absl::ToTimeT(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "x509pop: node certificate does not chain to the node CA: ",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  }
  return absl::OkStatus();
}

absl::Status VerifyPop(EVP_PKEY& key, absl::string_view nonce,
                       absl::string_view signature) {
  const std::string message = absl::StrCat(kX509PopContext, nonce);
  identity::UniqueEvpMdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by `md`
  const EVP_MD* digest =
      EVP_PKEY_get_id(&key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(md.get(), &pctx, digest, nullptr, &key) != 1) {
    return identity::OpenSslError("x509pop: EVP_DigestVerifyInit");
  }
  if (EVP_PKEY_get_id(&key) == EVP_PKEY_RSA) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  }
  if (EVP_DigestVerify(md.get(),
                       reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    identity::DrainOpenSslErrors();
    return absl::PermissionDeniedError(
        "x509pop: the challenge signature does not verify with the node "
        "certificate's key");
  }
  return absl::OkStatus();
}

std::string CommonName(X509& cert) {
  char buf[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(&cert),
                                          NID_commonName, buf, sizeof(buf));
  return n > 0 ? std::string(buf, n) : "";
}

// The server names the agent; a CSR may leave its SAN out, but one that
// names anything must name exactly the agent, and none may ask for a CA.
// An agent attesting for the first time does not know its ID yet: it may
// name spiffe://TD/mayfly/agent, the prefix every agent ID has.
absl::Status CheckAgentCsr(const identity::ParsedCsr& csr,
                           const identity::SpiffeId& id) {
  const std::string generic =
      absl::StrCat(id.trust_domain().IdString(), kAgentPathPrefix);
  if (!csr.asks_ca && csr.dns_names.empty() && csr.other_names == 0 &&
      (csr.uris.empty() ||
       (csr.uris.size() == 1 &&
        csr.uris[0] == generic.substr(0, generic.size() - 1)))) {
    return absl::OkStatus();
  }
  return identity::CheckCsrMatches(csr, id, {});
}

}  // namespace

absl::StatusOr<v1::AgentSvid> NodeService::SignAgentSvid(
    const std::string& agent_id, const std::string& csr_der) {
  ASSIGN_OR_RETURN(identity::ParsedCsr csr, identity::ParseCsrDer(csr_der));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(agent_id));
  RETURN_IF_ERROR(CheckAgentCsr(csr, id));
  ASSIGN_OR_RETURN(SignedLeaf leaf,
                   signer_.SignLeaf({id, options_.agent_ttl}, *csr.public_key));
  RETURN_IF_ERROR(store_.RecordAgentSvid(agent_id, leaf.serial_hex,
                                         absl::ToUnixSeconds(leaf.not_after)));
  v1::AgentSvid svid;
  svid.set_spiffe_id(agent_id);
  for (std::string& der : leaf.chain_der) svid.add_chain(std::move(der));
  svid.set_not_after_unix(absl::ToUnixSeconds(leaf.not_after));
  return svid;
}

absl::StatusOr<v1::Agent> NodeService::AttestJoinToken(
    const std::string& token, const std::string& csr_der,
    std::string& agent_id) {
  if (token.empty() || token.size() > 256) {
    return absl::InvalidArgumentError("join_token: 1 to 256 bytes");
  }
  const std::string hash = HexDigest(EVP_sha256(), token);
  agent_id = absl::StrCat(options_.trust_domain.IdString(), kAgentPathPrefix,
                          "join_token/", hash.substr(0, 32));
  // A CSR the agent SVID could not be signed for must not burn the token.
  ASSIGN_OR_RETURN(identity::ParsedCsr csr, identity::ParseCsrDer(csr_der));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(agent_id));
  RETURN_IF_ERROR(CheckAgentCsr(csr, id));
  v1::Agent agent;
  agent.set_spiffe_id(agent_id);
  agent.set_attestation("join_token");
  agent.set_attested_at_unix(absl::ToUnixSeconds(clock_.Now()));
  return store_.ConsumeJoinToken(hash, std::move(agent));
}

absl::StatusOr<v1::Agent> NodeService::AttestX509Pop(
    const v1::X509PopAttestation& pop,
    grpc::ServerReaderWriter<v1::AttestResponse, v1::AttestRequest>& stream,
    std::string& agent_id) {
  if (options_.x509pop_roots.empty()) {
    return absl::FailedPreconditionError(
        "x509pop is not configured on this server");
  }
  if (pop.chain().empty() || pop.chain_size() > kMaxX509PopChain) {
    return absl::InvalidArgumentError(absl::StrCat(
        "x509pop.chain: 1 to ", kMaxX509PopChain, " certificates"));
  }
  identity::CertChain chain;
  for (const std::string& der : pop.chain()) {
    absl::StatusOr<identity::CertChain> one = identity::CertsFromDer(der);
    if (!one.ok() || one->size() != 1) {
      return absl::InvalidArgumentError(
          "x509pop.chain: each item must be one DER certificate");
    }
    chain.push_back(std::move((*one)[0]));
  }
  RETURN_IF_ERROR(VerifyNodeChain(chain, options_.x509pop_roots, clock_.Now()));
  unsigned char nonce[kX509PopNonceBytes];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  const std::string nonce_str(reinterpret_cast<char*>(nonce), sizeof(nonce));
  v1::AttestResponse challenge;
  challenge.mutable_challenge()->set_nonce(nonce_str);
  v1::AttestRequest answer;
  if (!stream.Write(challenge) || !stream.Read(&answer) ||
      answer.step_case() != v1::AttestRequest::kChallengeResponse) {
    return absl::InvalidArgumentError(
        "x509pop: want a challenge_response after the challenge");
  }
  EVP_PKEY* leaf_key = X509_get0_pubkey(chain[0].get());  // owned by the cert
  if (leaf_key == nullptr) return identity::OpenSslError("x509pop: leaf key");
  RETURN_IF_ERROR(VerifyPop(*leaf_key, nonce_str, answer.challenge_response()));
  agent_id = absl::StrCat(options_.trust_domain.IdString(), kAgentPathPrefix,
                          "x509pop/", HexDigest(EVP_sha1(), pop.chain(0)));
  v1::Agent agent;
  agent.set_spiffe_id(agent_id);
  agent.set_attestation("x509pop");
  agent.set_attested_at_unix(absl::ToUnixSeconds(clock_.Now()));
  const std::string cn = CommonName(*chain[0]);
  for (const X509PopAlias& rule : options_.x509pop_aliases) {
    const bool match =
        absl::EndsWith(rule.cn, "*")
            ? absl::StartsWith(cn, rule.cn.substr(0, rule.cn.size() - 1))
            : cn == rule.cn;
    if (match) agent.add_aliases(rule.alias);
  }
  return store_.UpsertAttestedAgent(std::move(agent));
}

grpc::Status NodeService::Attest(
    grpc::ServerContext* /*context*/,
    grpc::ServerReaderWriter<v1::AttestResponse, v1::AttestRequest>* stream) {
  v1::AttestRequest first;
  if (!stream->Read(&first)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "no attestation request");
  }
  std::string agent_id;
  auto refuse = [&](const absl::Status& s) {
    LogWarn("attest_refused", {{"agent_id", agent_id},
                               {"code", absl::StatusCodeToString(s.code())},
                               {"error", std::string(s.message())}});
    return ToGrpc(s);
  };
  // A bad CSR must not burn a join token: check it first.
  if (absl::StatusOr<identity::ParsedCsr> csr =
          identity::ParseCsrDer(first.csr());
      !csr.ok()) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("csr: ", csr.status().message())));
  }
  absl::StatusOr<v1::Agent> agent;
  switch (first.step_case()) {
    case v1::AttestRequest::kJoinToken:
      agent =
          AttestJoinToken(first.join_token().token(), first.csr(), agent_id);
      break;
    case v1::AttestRequest::kX509Pop:
      agent = AttestX509Pop(first.x509pop(), *stream, agent_id);
      break;
    default:
      agent = absl::InvalidArgumentError(
          "the first message must carry join_token or x509pop");
  }
  if (!agent.ok()) return refuse(agent.status());
  absl::StatusOr<v1::AgentSvid> svid = SignAgentSvid(agent_id, first.csr());
  if (!svid.ok()) return refuse(svid.status());
  v1::AttestResponse response;
  *response.mutable_svid() = *std::move(svid);
  LogInfo("agent_attested",
          {{"agent_id", agent_id}, {"attestation", agent->attestation()}});
  stream->Write(response);
  return grpc::Status::OK;
}

}  // namespace mayfly::server
