// mayfly-server end to end, the rest of the Node and Registration surface:
// x509pop attestation with aliases, JWT-SVIDs checked against the synced
// JWKS, and Registration over mTLS for an admin SPIFFE ID only.
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "identity/file_util.h"
#include "identity/jwt.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/x509_svid.h"

namespace mayfly::server {
namespace {

using ::testing::ElementsAre;
using testing::HandMadeCsr;
using testing::ServerFixture;
using testing::TestAgent;

constexpr char kAlias[] = "spiffe://example.org/mayfly/alias/kafka";

class AttestationTest : public ServerFixture {
 protected:
  AttestationTest()
      : node_ca_(*identity::MintRootCa(
            {*identity::TrustDomain::FromString("nodes.example"),
             absl::Hours(24)},
            clock_)) {}

  void Configure(ServerConfig& config) override {
    const std::string path = dir_ + "/node_ca.pem";
    identity::CertChain roots;
    roots.push_back(identity::ShareCert(node_ca_.cert.get()));
    ASSERT_TRUE(
        identity::WriteFileAtomically(path, identity::CertsToPem(roots), 0644)
            .ok());
    config.x509pop_ca_bundle = path;
    config.x509pop_aliases = {{"kafka-*", kAlias}};
    config.admin_ids = {"spiffe://example.org/admin"};
  }

  // A node certificate from the node CA with CN `cn`.
  identity::X509Svid NodeCert(const std::string& cn) {
    identity::X509SvidRequest req{
        *identity::SpiffeId::FromString("spiffe://nodes.example/host"),
        absl::Hours(1)};
    req.subject = {{"CN", cn}};
    return *identity::MintX509Svid(req, node_ca_, clock_);
  }

  // Runs x509pop for `node`, signing the challenge with `pop_key`.
  grpc::Status AttestX509Pop(const identity::X509Svid& node,
                             const EVP_PKEY& pop_key, v1::AgentSvid* svid) {
    auto stub = NodeStub();
    grpc::ClientContext ctx;
    auto stream = stub->Attest(&ctx);
    auto agent_key = *identity::GenerateKey(identity::KeyType::kEcP256);
    v1::AttestRequest req;
    req.mutable_x509pop()->add_chain(identity::CertToDer(*node.chain[0]));
    req.set_csr(HandMadeCsr(*agent_key, *agent_key, {}));
    stream->Write(req);
    v1::AttestResponse challenge;
    if (stream->Read(&challenge) && challenge.has_challenge()) {
      const std::string msg =
          absl::StrCat(kX509PopContext, challenge.challenge().nonce());
      identity::UniqueEvpMdCtx md(EVP_MD_CTX_new());
      EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr,
                         const_cast<EVP_PKEY*>(&pop_key));
      size_t len = 0;
      auto* data = reinterpret_cast<const unsigned char*>(msg.data());
      EVP_DigestSign(md.get(), nullptr, &len, data, msg.size());
      std::string sig(len, '\0');
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, data, msg.size());
      sig.resize(len);
      v1::AttestRequest answer;
      answer.set_challenge_response(sig);
      stream->Write(answer);
    }
    stream->WritesDone();
    v1::AttestResponse resp;
    if (stream->Read(&resp)) *svid = resp.svid();
    return stream->Finish();
  }

  identity::Signer node_ca_;
};

TEST_F(AttestationTest, X509PopGivesTheLeafHashIdAndTheAlias) {
  identity::X509Svid node = NodeCert("kafka-1");
  v1::AgentSvid svid;
  grpc::Status s = AttestX509Pop(node, *node.key, &svid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  unsigned char sha1[20];
  const std::string der = identity::CertToDer(*node.chain[0]);
  SHA1(reinterpret_cast<const unsigned char*>(der.data()), der.size(), sha1);
  std::string hex;
  for (unsigned char b : sha1)
    absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  EXPECT_EQ(svid.spiffe_id(),
            "spiffe://example.org/mayfly/agent/x509pop/" + hex);

  grpc::ClientContext ctx;
  v1::ListAgentsResponse agents;
  ASSERT_TRUE(admin_->ListAgents(&ctx, v1::ListAgentsRequest(), &agents).ok());
  ASSERT_EQ(agents.agents_size(), 1);
  EXPECT_EQ(agents.agents(0).attestation(), "x509pop");
  EXPECT_THAT(agents.agents(0).aliases(), ElementsAre(kAlias));
}

TEST_F(AttestationTest, X509PopWithAnotherKeyIsRefused) {
  identity::X509Svid node = NodeCert("web-1");
  auto wrong = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::AgentSvid svid;
  grpc::Status s = AttestX509Pop(node, *wrong, &svid);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "x509pop: the challenge signature does not verify with the node "
            "certificate's key");
}

TEST_F(AttestationTest, X509PopFromAnotherCaIsRefused) {
  identity::Signer other = *identity::MintRootCa(
      {*identity::TrustDomain::FromString("evil.example"), absl::Hours(24)},
      clock_);
  identity::X509SvidRequest req{
      *identity::SpiffeId::FromString("spiffe://evil.example/host"),
      absl::Hours(1)};
  identity::X509Svid node = *identity::MintX509Svid(req, other, clock_);
  v1::AgentSvid svid;
  grpc::Status s = AttestX509Pop(node, *node.key, &svid);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(),
              ::testing::StartsWith("x509pop: node certificate does not "
                                    "chain to the node CA"));
}

TEST_F(AttestationTest, AliasEntriesReachEveryAgentOfTheAlias) {
  TestAgent member = NewAgent({kAlias});
  TestAgent outsider = NewAgent();
  grpc::ClientContext sync_ctx;
  auto stream = member.node->Sync(&sync_ctx, v1::SyncRequest());
  v1::SyncResponse state;
  ASSERT_TRUE(stream->Read(&state));
  EXPECT_THAT(state.aliases(), ElementsAre(kAlias));

  v1::Entry entry;
  entry.set_spiffe_id("spiffe://example.org/kafka");
  entry.set_parent_id(kAlias);
  entry.add_selectors("unix:uid:1000");
  entry = CreateEntry(entry);
  ASSERT_TRUE(stream->Read(&state));
  ASSERT_EQ(state.entries_size(), 1);
  EXPECT_EQ(state.entries(0).id(), entry.id());
  sync_ctx.TryCancel();

  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::SignX509Request req;
  req.add_csrs()->set_entry_id(entry.id());
  req.mutable_csrs(0)->set_csr(HandMadeCsr(
      *key, *key, {"subjectAltName=URI:spiffe://example.org/kafka"}));
  v1::SignX509Response resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(member.node->SignX509(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).error_code(), 0) << resp.results(0).error();
  grpc::ClientContext outsider_ctx;
  ASSERT_TRUE(outsider.node->SignX509(&outsider_ctx, req, &resp).ok());
  EXPECT_EQ(resp.results(0).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AttestationTest, JwtSvidVerifiesWithTheSyncedJwks) {
  TestAgent agent = NewAgent();
  v1::Entry entry;
  entry.set_spiffe_id("spiffe://example.org/web");
  entry.set_parent_id(agent.id);
  entry.add_selectors("unix:uid:1000");
  entry.set_jwt_ttl_seconds(120);
  entry = CreateEntry(entry);

  v1::SignJwtRequest req;
  req.set_entry_id(entry.id());
  req.add_audience("kafka");
  grpc::ClientContext ctx;
  v1::SignJwtResponse resp;
  grpc::Status s = agent.node->SignJwt(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.expires_at_unix(),
            absl::ToUnixSeconds(clock_.Now() + absl::Seconds(120)));

  grpc::ClientContext sync_ctx;
  auto stream = agent.node->Sync(&sync_ctx, v1::SyncRequest());
  v1::SyncResponse state;
  ASSERT_TRUE(stream->Read(&state));
  sync_ctx.TryCancel();
  auto td = *identity::TrustDomain::FromString("example.org");
  auto bundle = identity::JwtBundle::FromJwks(td, state.bundle().jwt_jwks());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const identity::JwtBundle* bundles[] = {&*bundle};
  auto claims =
      identity::ValidateJwtSvid(resp.token(), "kafka", bundles, clock_);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->id.ToString(), "spiffe://example.org/web");

  req.set_ttl_seconds(121);
  grpc::ClientContext long_ctx;
  s = agent.node->SignJwt(&long_ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), absl::StrCat("ttl_seconds 121 is above entry ",
                                            entry.id(), "'s 120"));
}

TEST_F(AttestationTest, RegistrationOverTlsOnlyForAdminIds) {
  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  // An admin SVID, as an operator's own agent would fetch it.
  identity::X509Svid admin = *identity::MintX509Svid(
      {*identity::SpiffeId::FromString("spiffe://example.org/admin"),
       absl::Minutes(5)},
      server_->signer().Current()->signer, clock_);
  auto admin_stub = v1::Registration::NewStub(
      TlsChannel(*identity::PrivateKeyToPkcs8Pem(*admin.key),
                 identity::CertsToPem(admin.chain)));
  grpc::ClientContext ctx;
  v1::ListAgentsResponse agents;
  grpc::Status s =
      admin_stub->ListAgents(&ctx, v1::ListAgentsRequest(), &agents);
  EXPECT_TRUE(s.ok()) << s.error_message();

  TestAgent agent = NewAgent();
  auto agent_stub = v1::Registration::NewStub(
      TlsChannel(*identity::PrivateKeyToPkcs8Pem(*agent.key), [&] {
        std::string pem;
        for (const auto& der : agent.chain_der) {
          pem += identity::CertsToPem(*identity::CertsFromDer(der));
        }
        return pem;
      }()));
  grpc::ClientContext agent_ctx;
  s = agent_stub->ListAgents(&agent_ctx, v1::ListAgentsRequest(), &agents);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), agent.id + " is not in admin_ids");

  auto anonymous = v1::Registration::NewStub(TlsChannel());
  grpc::ClientContext anon_ctx;
  s = anonymous->ListAgents(&anon_ctx, v1::ListAgentsRequest(), &agents);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace mayfly::server
