// mayfly-server's /metrics: each value after the calls that move it, read
// exactly (counters by their count, expiries by the certificates' NotAfter).
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "identity/file_util.h"
#include "identity/metrics/testing/sample_value.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/x509_svid.h"

namespace mayfly::server {
namespace {

using testing::HandMadeCsr;
using testing::ServerFixture;
using testing::TestAgent;

constexpr char kWeb[] = "spiffe://example.org/web";

class ServerMetricsTest : public ServerFixture {
 protected:
  void Configure(ServerConfig& config) override {
    config.metrics_address = "127.0.0.1:0";
  }

  double Metric(const std::string& name) {
    return metrics::testing::SampleValue(server_->RenderMetrics(), name);
  }

  // Polls `name` until it is `want` (the store cache follows a watch).
  bool MetricBecomes(const std::string& name, double want) {
    for (int i = 0; i < 500; ++i) {
      if (Metric(name) == want) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
};

TEST_F(ServerMetricsTest, ServesOnItsOwnPort) {
  EXPECT_GT(server_->metrics_port(), 0);
  EXPECT_EQ(
      sink_.Count("server_started",
                  {{"metrics_port", absl::StrCat(server_->metrics_port())}}),
      1);
}

TEST_F(ServerMetricsTest, ExpiriesAreTheCertificatesNotAfter) {
  const auto signing = server_->signer().Current();
  EXPECT_EQ(Metric("mayfly_server_intermediate_expiry_seconds"),
            absl::ToUnixSeconds(signing->signer.NotAfter()));
  EXPECT_EQ(
      Metric("mayfly_server_bundle_root_earliest_expiry_seconds"),
      absl::ToUnixSeconds(identity::EarliestNotAfter(signing->roots.roots())));
  identity::CertChain served =
      *identity::CertsFromPem(*identity::ReadFile(server_->server_cert_path()));
  EXPECT_EQ(Metric("mayfly_server_svid_expiry_seconds"),
            absl::ToUnixSeconds(identity::CertNotAfter(*served[0])));
}

TEST_F(ServerMetricsTest, CountsSignsRefusalsStreamsAndAgents) {
  EXPECT_EQ(Metric("mayfly_server_svids_signed_total"), 0);
  EXPECT_EQ(Metric("mayfly_server_store_errors_total"), 0);
  TestAgent agent = NewAgent();
  ASSERT_TRUE(MetricBecomes("mayfly_server_attested_agents", 1));
  v1::Entry entry;
  entry.set_spiffe_id(kWeb);
  entry.set_parent_id(agent.id);
  entry.add_selectors("unix:uid:1000");
  entry = CreateEntry(entry);

  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::SignX509Request req;
  v1::CsrForEntry* good = req.add_csrs();
  good->set_entry_id(entry.id());
  good->set_csr(
      HandMadeCsr(*key, *key, {"subjectAltName=URI:" + std::string(kWeb)}));
  v1::CsrForEntry* bad = req.add_csrs();  // names an ID the entry does not
  bad->set_entry_id(entry.id());
  bad->set_csr(HandMadeCsr(*key, *key, {"subjectAltName=URI:spiffe://x/y"}));
  grpc::ClientContext sign_ctx;
  v1::SignX509Response resp;
  ASSERT_TRUE(agent.node->SignX509(&sign_ctx, req, &resp).ok());
  EXPECT_EQ(Metric("mayfly_server_svids_signed_total"), 1);
  EXPECT_EQ(Metric("mayfly_server_sign_refusals_total"), 1);

  grpc::ClientContext sync_ctx;
  auto stream = agent.node->Sync(&sync_ctx, v1::SyncRequest());
  v1::SyncResponse state;
  ASSERT_TRUE(stream->Read(&state));
  EXPECT_EQ(Metric("mayfly_server_sync_streams"), 1);

  grpc::ClientContext evict_ctx;
  v1::AgentId id;
  id.set_spiffe_id(agent.id);
  v1::Agent evicted;
  ASSERT_TRUE(admin_->EvictAgent(&evict_ctx, id, &evicted).ok());
  while (stream->Read(&state)) {
  }
  stream->Finish();
  ASSERT_TRUE(MetricBecomes("mayfly_server_sync_streams", 0));
  ASSERT_TRUE(MetricBecomes("mayfly_server_evicted_agents", 1));
  EXPECT_EQ(Metric("mayfly_server_attested_agents"), 0);
  EXPECT_EQ(Metric("mayfly_server_store_errors_total"), 0);
}

}  // namespace
}  // namespace mayfly::server
