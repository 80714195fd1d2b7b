// A hostile but attested agent: every way it may ask the server for more
// than its entries allow is refused with an exact code and message, and
// logged with the agent and entry IDs.
#include "gmock/gmock.h"
#include "identity/server/testing/server_fixture.h"

namespace mayfly::server {
namespace {

using testing::HandMadeCsr;
using testing::ServerFixture;
using testing::TestAgent;

constexpr char kWeb[] = "spiffe://example.org/web";

class HostileAgentTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    agent_ = NewAgent();
    v1::Entry entry;
    entry.set_spiffe_id(kWeb);
    entry.set_parent_id(agent_.id);
    entry.add_selectors("unix:uid:1000");
    entry.add_dns_names("web.internal");
    entry.set_ttl_seconds(60);
    entry_ = CreateEntry(entry);
    key_ = *identity::GenerateKey(identity::KeyType::kEcP256);
  }

  // Sends one CSR for `entry_id` and returns its result.
  v1::SignX509Result Sign(const std::string& entry_id, const std::string& csr,
                          int64_t ttl_seconds = 0) {
    v1::SignX509Request req;
    v1::CsrForEntry* item = req.add_csrs();
    item->set_entry_id(entry_id);
    item->set_csr(csr);
    item->set_ttl_seconds(ttl_seconds);
    grpc::ClientContext ctx;
    v1::SignX509Response resp;
    grpc::Status s = agent_.node->SignX509(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.results_size(), 1);
    return resp.results_size() == 1 ? resp.results(0) : v1::SignX509Result();
  }

  std::string Csr(const std::vector<std::string>& conf) {
    return HandMadeCsr(*key_, *key_, conf);
  }

  // The refusal was logged with who asked for what.
  void ExpectLogged(const std::string& entry_id) {
    EXPECT_EQ(sink_.Count("sign_x509_refused",
                          {{"agent_id", agent_.id}, {"entry_id", entry_id}}),
              1);
  }

  TestAgent agent_;
  v1::Entry entry_;
  identity::UniqueEvpPkey key_;
};

constexpr char kGoodSan[] =
    "subjectAltName=URI:spiffe://example.org/web,DNS:web.internal";

TEST_F(HostileAgentTest, TheHonestRequestIsSigned) {
  v1::SignX509Result r = Sign(entry_.id(), Csr({kGoodSan}));
  EXPECT_EQ(r.error_code(), 0) << r.error();
  EXPECT_EQ(r.chain_size(), 2);
}

TEST_F(HostileAgentTest, EntryOfAnotherAgentIsRefused) {
  TestAgent other = NewAgent();
  v1::Entry theirs;
  theirs.set_spiffe_id("spiffe://example.org/db");
  theirs.set_parent_id(other.id);
  theirs.add_selectors("unix:uid:0");
  theirs = CreateEntry(theirs);
  v1::SignX509Result r =
      Sign(theirs.id(), Csr({"subjectAltName=URI:spiffe://example.org/db"}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(),
            absl::StrCat("entry ", theirs.id(), " is parented to ", other.id,
                         ", not to agent ", agent_.id, " or its aliases"));
  EXPECT_EQ(r.chain_size(), 0);
  ExpectLogged(theirs.id());
}

TEST_F(HostileAgentTest, CsrForAnotherIdIsRefused) {
  v1::SignX509Result r = Sign(
      entry_.id(),
      Csr({"subjectAltName=URI:spiffe://example.org/admin,DNS:web.internal"}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(),
            "CSR names URI SANs [spiffe://example.org/admin]; the entry allows "
            "exactly spiffe://example.org/web");
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, ExtraUriSanIsRefused) {
  v1::SignX509Result r =
      Sign(entry_.id(),
           Csr({std::string(kGoodSan) + ",URI:spiffe://example.org/admin"}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(),
            "CSR names URI SANs [spiffe://example.org/web, "
            "spiffe://example.org/admin]; the entry allows exactly "
            "spiffe://example.org/web");
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, ExtraDnsSanIsRefused) {
  v1::SignX509Result r =
      Sign(entry_.id(), Csr({std::string(kGoodSan) + ",DNS:kafka.internal"}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(),
            "CSR names DNS SANs [kafka.internal, web.internal]; the entry "
            "allows exactly [web.internal]");
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, CaCsrIsRefused) {
  v1::SignX509Result r =
      Sign(entry_.id(), Csr({kGoodSan, "basicConstraints=critical,CA:TRUE"}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(), "CSR asks for a CA certificate");
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, CsrNotSignedByItsKeyIsRefused) {
  auto other_key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::SignX509Result r =
      Sign(entry_.id(), HandMadeCsr(*key_, *other_key, {kGoodSan}));
  EXPECT_EQ(r.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.error(), "CSR: its signature was not made by the key it carries");
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, TtlAboveTheEntrysIsRefused) {
  v1::SignX509Result r = Sign(entry_.id(), Csr({kGoodSan}), 61);
  EXPECT_EQ(r.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(r.error(), absl::StrCat("ttl_seconds 61 is above entry ",
                                    entry_.id(), "'s 60"));
  ExpectLogged(entry_.id());
}

TEST_F(HostileAgentTest, OversizedBatchIsRefusedWhole) {
  v1::SignX509Request req;
  for (int i = 0; i <= kMaxCsrsPerBatch; ++i) {
    v1::CsrForEntry* item = req.add_csrs();
    item->set_entry_id(entry_.id());
  }
  grpc::ClientContext ctx;
  v1::SignX509Response resp;
  grpc::Status s = agent_.node->SignX509(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "257 CSRs in one request; at most 256");
}

TEST_F(HostileAgentTest, EvictedAgentIsRefusedEverywhere) {
  grpc::ClientContext sync_ctx;
  auto stream = agent_.node->Sync(&sync_ctx, v1::SyncRequest());
  v1::SyncResponse state;
  ASSERT_TRUE(stream->Read(&state));
  ASSERT_EQ(state.entries_size(), 1);

  grpc::ClientContext evict_ctx;
  v1::AgentId id;
  id.set_spiffe_id(agent_.id);
  v1::Agent evicted;
  ASSERT_TRUE(admin_->EvictAgent(&evict_ctx, id, &evicted).ok());
  EXPECT_TRUE(evicted.evicted());
  const std::string want = absl::StrCat("agent ", agent_.id, " is evicted");

  // The open Sync stream ends.
  while (stream->Read(&state)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), want);

  v1::SignX509Request req;
  req.add_csrs()->set_entry_id(entry_.id());
  grpc::ClientContext sign_ctx;
  v1::SignX509Response resp;
  s = agent_.node->SignX509(&sign_ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), want);

  v1::RenewAgentRequest renew;
  renew.set_csr(HandMadeCsr(*agent_.key, *agent_.key, {}));
  grpc::ClientContext renew_ctx;
  v1::AgentSvid svid;
  s = agent_.node->RenewAgent(&renew_ctx, renew, &svid);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), want);
  EXPECT_EQ(sink_.Count("renew_agent_refused", {{"error", want}}), 1);
}

TEST_F(HostileAgentTest, SyncStreamsPerAgentAreBounded) {
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SyncResponse>>> streams;
  for (int i = 0; i < kMaxSyncStreamsPerAgent; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(agent_.node->Sync(contexts.back().get(), {}));
    v1::SyncResponse state;
    ASSERT_TRUE(streams.back()->Read(&state));
  }
  grpc::ClientContext ctx;
  auto extra = agent_.node->Sync(&ctx, v1::SyncRequest());
  v1::SyncResponse state;
  EXPECT_FALSE(extra->Read(&state));
  grpc::Status s = extra->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), absl::StrCat("agent ", agent_.id,
                                            " already has 4 Sync streams "
                                            "open"));
  for (auto& c : contexts) c->TryCancel();
}

TEST_F(HostileAgentTest, RenewalOfALiveAgentWorks) {
  v1::RenewAgentRequest renew;
  renew.set_csr(HandMadeCsr(*agent_.key, *agent_.key, {}));
  grpc::ClientContext ctx;
  v1::AgentSvid svid;
  grpc::Status s = agent_.node->RenewAgent(&ctx, renew, &svid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(svid.spiffe_id(), agent_.id);
}

}  // namespace
}  // namespace mayfly::server
