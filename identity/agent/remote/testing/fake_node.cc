// A fake mayfly-server Node service for the agent's tests: see fake_node.h.
#include "identity/agent/remote/testing/fake_node.h"

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/agent/remote/x509pop.h"
#include "identity/csr.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::agent::remote::testing {
namespace {

grpc::Status Refused(absl::string_view why) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(why));
}

// Node calls but Attest come over mTLS with the agent SVID: the fake checks
// that much (a real server checks the chain too).
bool PeerIsAgent(const grpc::ServerContext& context) {
  for (const grpc::string_ref& id : context.auth_context()->FindPropertyValues(
           GRPC_PEER_SPIFFE_ID_PROPERTY_NAME)) {
    if (std::string(id.data(), id.size()) == kFakeAgentId) return true;
  }
  return false;
}

grpc::Status NotAgent() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no agent SVID shown");
}

absl::Status AddExt(X509& cert, X509& issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, &issuer, &cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(&cert, ext, -1) != 1) {
    X509_EXTENSION_free(ext);
    return absl::InternalError(absl::StrCat("cannot add extension ", value));
  }
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyX509PopAnswer(const EVP_PKEY& key, const std::string& nonce,
                                 const std::string& signature) {
  const std::string message = absl::StrCat(kX509PopContext, nonce);
  identity::OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  EVP_PKEY* pkey = const_cast<EVP_PKEY*>(&key);  // only read
  const int type = EVP_PKEY_get_base_id(pkey);
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx,
                           type == EVP_PKEY_ED25519 ? nullptr : EVP_sha256(),
                           nullptr, pkey) != 1) {
    return absl::InternalError("cannot verify");
  }
  if (type == EVP_PKEY_RSA) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  if (EVP_DigestVerify(ctx.get(),
                       reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    return absl::PermissionDeniedError("x509pop: bad challenge response");
  }
  return absl::OkStatus();
}

absl::StatusOr<TestCa> TestCa::Create(const identity::Clock& clock) {
  ASSIGN_OR_RETURN(identity::TrustDomain td,
                   identity::TrustDomain::FromString("example.org"));
  ASSIGN_OR_RETURN(identity::Signer root,
                   identity::MintRootCa({td, absl::Hours(48)}, clock));
  TestCa ca{std::move(root)};
  identity::CertChain one;
  one.push_back(identity::ShareCert(ca.root.cert.get()));
  ca.root_pem = identity::CertsToPem(one);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(ca.root.cert.get(), EVP_sha256(), digest, &length);
  ca.root_sha256 = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
  return ca;
}

absl::StatusOr<std::unique_ptr<FakeNode>> FakeNode::Start(
    const TestCa& ca, const identity::Clock& clock,
    const std::string& server_id) {
  std::unique_ptr<FakeNode> node(new FakeNode(ca, clock));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(server_id));
  identity::X509SvidRequest request{id};
  request.ttl = absl::Hours(24);
  ASSIGN_OR_RETURN(identity::X509Svid svid,
                   identity::MintX509Svid(request, ca.root, clock));
  ASSIGN_OR_RETURN(std::string key_pem,
                   identity::PrivateKeyToPkcs8Pem(*svid.key));
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  // The full chain, root included, as the real server sends it.
  node->chain_pem_ = identity::CertsToPem(svid.chain) + ca.root_pem;
  options.pem_key_cert_pairs.push_back({key_pem, node->chain_pem_});
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options),
                           &port);
  builder.RegisterService(node.get());
  node->server_ = builder.BuildAndStart();
  if (node->server_ == nullptr || port == 0) {
    return absl::InternalError("the fake Node service did not start");
  }
  node->address_ = absl::StrCat("127.0.0.1:", port);
  return node;
}

FakeNode::~FakeNode() { Shutdown(); }

void FakeNode::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

void FakeNode::SetEntries(std::vector<pb::Entry> entries) {
  absl::MutexLock lock(&mu_);
  entries_ = std::move(entries);
  ++revision_;
}

void FakeNode::SetBundleTrustDomain(const std::string& td) {
  absl::StatusOr<identity::Signer> root = identity::MintRootCa(
      {*identity::TrustDomain::FromString(td), absl::Hours(48)}, clock_);
  identity::CertChain one;
  if (root.ok()) one.push_back(identity::ShareCert(root->cert.get()));
  absl::MutexLock lock(&mu_);
  bundle_td_ = td;
  other_root_der_ = identity::CertsToDer(one);
  ++revision_;
}

void FakeNode::SetExtraRoots(std::vector<std::string> roots_der) {
  absl::MutexLock lock(&mu_);
  extra_roots_ = std::move(roots_der);
  ++revision_;
}

void FakeNode::Evict() {
  absl::MutexLock lock(&mu_);
  evicted_ = true;
}

void FakeNode::SetSignDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  sign_delay_ = delay;
}

void FakeNode::SetSvidTtl(absl::Duration ttl) {
  absl::MutexLock lock(&mu_);
  ttl_ = ttl;
}

int FakeNode::attests() const {
  absl::MutexLock lock(&mu_);
  return attests_;
}

int FakeNode::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

std::vector<int> FakeNode::sign_batches() const {
  absl::MutexLock lock(&mu_);
  return sign_batches_;
}

absl::StatusOr<std::string> FakeNode::SignCsr(const std::string& csr_der,
                                              const std::string& uri,
                                              absl::Duration ttl) const {
  return SignCsrForTest(ca_, csr_der, uri, ttl, clock_);
}

absl::StatusOr<std::string> SignCsrForTest(const TestCa& ca,
                                           const std::string& csr_der,
                                           const std::string& uri,
                                           absl::Duration ttl,
                                           const identity::Clock& clock) {
  ASSIGN_OR_RETURN(identity::ParsedCsr csr, identity::ParseCsrDer(csr_der));
  identity::UniqueX509 cert(X509_new());
  X509& issuer = *ca.root.cert;
  const absl::Time now = clock.Now();
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(absl::ToUnixNanos(now) & 0x7fffffff));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(&issuer));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Fake"), -1,
                             -1, 0);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                absl::ToTimeT(now - absl::Seconds(10)));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(now + ttl));
  X509_set_pubkey(cert.get(), csr.public_key.get());
  RETURN_IF_ERROR(
      AddExt(*cert, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(
      AddExt(*cert, issuer, NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(
      AddExt(*cert, issuer, NID_ext_key_usage, "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddExt(*cert, issuer, NID_subject_alt_name,
                         absl::StrCat("URI:", uri).c_str()));
  if (X509_sign(cert.get(), ca.root.key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError("cannot sign");
  }
  identity::CertChain one;
  one.push_back(std::move(cert));
  return identity::CertsToDer(one);
}

grpc::Status FakeNode::Attest(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<pb::AttestResponse, pb::AttestRequest>* stream) {
  pb::AttestRequest request;
  if (!stream->Read(&request)) return grpc::Status::CANCELLED;
  const std::string csr = request.csr();
  if (request.has_x509pop()) {
    // Checks possession of the key only; a real server also checks the
    // chain against its node CA.
    absl::StatusOr<identity::CertChain> leaf =
        request.x509pop().chain().empty()
            ? absl::InvalidArgumentError("no chain")
            : identity::CertsFromDer(request.x509pop().chain(0));
    if (!leaf.ok() || leaf->empty()) return Refused("x509pop: no certificate");
    pb::AttestResponse challenge;
    challenge.mutable_challenge()->set_nonce("fake nonce 0123456789");
    if (!stream->Write(challenge) || !stream->Read(&request)) {
      return grpc::Status::CANCELLED;
    }
    identity::UniqueEvpPkey key(X509_get_pubkey((*leaf)[0].get()));
    if (!VerifyX509PopAnswer(*key, challenge.challenge().nonce(),
                             request.challenge_response())
             .ok()) {
      return Refused("x509pop: bad challenge response");
    }
  } else if (request.join_token().token() != kFakeJoinToken) {
    return Refused("join token unknown or used");
  }
  absl::Duration ttl;
  {
    absl::MutexLock lock(&mu_);
    ++attests_;
    ttl = ttl_ * 4;
  }
  absl::StatusOr<std::string> leaf = SignCsr(csr, kFakeAgentId, ttl);
  if (!leaf.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(leaf.status().message()));
  }
  pb::AttestResponse response;
  response.mutable_svid()->set_spiffe_id(kFakeAgentId);
  response.mutable_svid()->add_chain(*leaf);
  response.mutable_svid()->set_not_after_unix(
      absl::ToUnixSeconds(clock_.Now() + ttl));
  stream->Write(response);
  return grpc::Status::OK;
}

grpc::Status FakeNode::RenewAgent(grpc::ServerContext* context,
                                  const pb::RenewAgentRequest* request,
                                  pb::AgentSvid* response) {
  if (!PeerIsAgent(*context)) return NotAgent();
  absl::Duration ttl;
  {
    absl::MutexLock lock(&mu_);
    if (evicted_) return Refused("agent evicted");
    ++renewals_;
    ttl = ttl_ * 4;
  }
  absl::StatusOr<std::string> leaf = SignCsr(request->csr(), kFakeAgentId, ttl);
  if (!leaf.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
  response->set_spiffe_id(kFakeAgentId);
  response->add_chain(*leaf);
  response->set_not_after_unix(absl::ToUnixSeconds(clock_.Now() + ttl));
  return grpc::Status::OK;
}

pb::SyncResponse FakeNode::StateLocked() const {
  pb::SyncResponse response;
  response.set_revision(revision_);
  for (const pb::Entry& e : entries_) *response.add_entries() = e;
  response.mutable_bundle()->set_trust_domain(bundle_td_);
  identity::CertChain one;
  one.push_back(identity::ShareCert(ca_.root.cert.get()));
  response.mutable_bundle()->add_x509_roots(
      other_root_der_.empty() ? identity::CertsToDer(one) : other_root_der_);
  for (const std::string& root : extra_roots_) {
    response.mutable_bundle()->add_x509_roots(root);
  }
  return response;
}

grpc::Status FakeNode::Sync(grpc::ServerContext* context,
                            const pb::SyncRequest*,
                            grpc::ServerWriter<pb::SyncResponse>* writer) {
  if (!PeerIsAgent(*context)) return NotAgent();
  int64_t sent = 0;
  while (!context->IsCancelled()) {
    pb::SyncResponse state;
    {
      absl::MutexLock lock(&mu_);
      if (evicted_) return Refused("agent evicted");
      if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye");
      // Wakes on a change; the timeout only notices a cancelled call.
      auto changed = [this, &sent]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return revision_ != sent || evicted_ || shutdown_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(50));
      if (revision_ == sent || evicted_ || shutdown_) continue;
      sent = revision_;
      state = StateLocked();
    }
    if (!writer->Write(state)) break;
  }
  return grpc::Status::CANCELLED;
}

grpc::Status FakeNode::SignX509(grpc::ServerContext* context,
                                const pb::SignX509Request* request,
                                pb::SignX509Response* response) {
  if (!PeerIsAgent(*context)) return NotAgent();
  std::vector<pb::Entry> entries;
  absl::Duration ttl;
  absl::Duration delay;
  {
    absl::MutexLock lock(&mu_);
    if (evicted_) return Refused("agent evicted");
    sign_batches_.push_back(request->csrs_size());
    entries = entries_;
    ttl = ttl_;
    delay = sign_delay_;
  }
  absl::SleepFor(delay);
  for (const pb::CsrForEntry& item : request->csrs()) {
    pb::SignX509Result* result = response->add_results();
    result->set_entry_id(item.entry_id());
    const pb::Entry* entry = nullptr;
    for (const pb::Entry& e : entries) {
      if (e.id() == item.entry_id()) entry = &e;
    }
    if (entry == nullptr) {
      result->set_error_code(grpc::StatusCode::PERMISSION_DENIED);
      result->set_error("no such entry for this agent");
      continue;
    }
    absl::StatusOr<std::string> leaf =
        SignCsr(item.csr(), entry->spiffe_id(), ttl);
    if (!leaf.ok()) {
      result->set_error_code(grpc::StatusCode::INVALID_ARGUMENT);
      result->set_error(std::string(leaf.status().message()));
      continue;
    }
    result->add_chain(*leaf);
    result->set_not_after_unix(absl::ToUnixSeconds(clock_.Now() + ttl));
  }
  return grpc::Status::OK;
}

grpc::Status FakeNode::SignJwt(grpc::ServerContext* context,
                               const pb::SignJwtRequest* request,
                               pb::SignJwtResponse* response) {
  if (!PeerIsAgent(*context)) return NotAgent();
  absl::MutexLock lock(&mu_);
  if (evicted_) return Refused("agent evicted");
  // Not a JWT: the agent passes the server's token through untouched.
  response->set_token(absl::StrCat("jwt-for-", request->entry_id(), "-",
                                   absl::StrJoin(request->audience(), ",")));
  response->set_expires_at_unix(
      absl::ToUnixSeconds(clock_.Now() + absl::Minutes(5)));
  return grpc::Status::OK;
}

pb::Entry MakeEntry(const std::string& id, const std::string& spiffe_id,
                    const std::vector<std::string>& selectors) {
  pb::Entry entry;
  entry.set_id(id);
  entry.set_spiffe_id(spiffe_id);
  entry.set_parent_id(kFakeAgentId);
  for (const std::string& s : selectors) entry.add_selectors(s);
  return entry;
}

}  // namespace mayfly::agent::remote::testing
