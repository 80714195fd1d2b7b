// The agent in server mode, end to end against a fake Node service (a real
// gRPC server on loopback TLS with a real test CA): entries pushed on Sync
// reach workloads through the real Workload API, renewals go in batches,
// the agent fails over, serves from its cache through an outage, and stops
// serving once evicted.
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/agent.h"
#include "identity/agent/config.h"
#include "identity/agent/remote/testing/fake_node.h"
#include "identity/clock.h"
#include "identity/keys.h"
#include "identity/metrics/metrics_server.h"
#include "identity/metrics/testing/sample_value.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/client.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using remote::testing::FakeNode;
using remote::testing::MakeEntry;
using remote::testing::TestCa;
namespace pb = ::mayfly::server::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// How long a test waits for something pushed to arrive; a bound, not a
// sleep: the waits poll and return as soon as it holds.
constexpr absl::Duration kPatience = absl::Seconds(10);

constexpr char kEntryA[] = "0000000000000000000000000000000a";
constexpr char kEntryB[] = "0000000000000000000000000000000b";
constexpr char kEntryC[] = "0000000000000000000000000000000c";

template <typename Predicate>
bool WaitFor(Predicate done) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A loopback port nothing listens on.
std::string DeadAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
}

class ServerModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp: a socket path must stay under 108 bytes.
    char dir[] = "/tmp/server_mode_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<TestCa> ca = TestCa::Create(clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*std::move(ca));
    std::ofstream(dir_ + "/bundle.pem") << ca_->root_pem;
    absl::StatusOr<std::unique_ptr<FakeNode>> node =
        FakeNode::Start(*ca_, clock_);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    uid_selector_ = absl::StrCat("unix:uid:", getuid());
  }
  void TearDown() override {
    agent_.reset();
    node_.reset();
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  void StartAgent(const std::string& addresses,
                  const std::string& attestation = absl::StrCat(
                      "join_token: ", remote::testing::kFakeJoinToken)) {
    absl::StatusOr<AgentConfig> config =
        ParseAgentConfig(absl::StrCat("trust_domain: example.org\n"
                                      "socket_path: ",
                                      dir_, "/api.sock\n", "state_dir: ", dir_,
                                      "/state\n"
                                      "server:\n"
                                      "  address: [",
                                      addresses,
                                      "]\n"
                                      "  bundle: bundle.pem\n  ",
                                      attestation, "\n"),
                         "test config", dir_);
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<Agent>> agent =
        Agent::Create(*config, "", clock_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    auto client = identity::workload::WorkloadClient::Create(
        absl::StrCat("unix://", dir_, "/api.sock"));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // A new connection each time: the agent closes idle connections (timed
  // on the fake clock), and a test's fetch should not meet one it closed.
  absl::StatusOr<identity::workload::X509Context> Fetch() {
    auto client = identity::workload::WorkloadClient::Create(
        absl::StrCat("unix://", dir_, "/api.sock"));
    if (!client.ok()) return client.status();
    return (*client)->FetchX509Context(absl::Seconds(5));
  }
  bool MetricIs(const std::string& name, const std::string& value) {
    return absl::StrContains(agent_->RenderMetrics(),
                             absl::StrCat(name, " ", value, "\n"));
  }
  double Metric(const std::string& name) {
    return metrics::testing::SampleValue(agent_->RenderMetrics(), name);
  }
  bool EntriesApplied(int n) {
    return MetricIs("mayfly_agent_registration_entries", std::to_string(n));
  }
  std::string LeafDer(const identity::workload::X509Context& context,
                      size_t i) {
    return identity::CertsToDer(identity::ShareChain(context.svids[i].chain))
        .substr(0, 100);
  }

  identity::FakeClock clock_{absl::Now()};
  std::string dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<FakeNode> node_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<identity::workload::WorkloadClient> client_;
  std::string uid_selector_;
};

TEST_F(ServerModeTest, AttestsAndServesEntriesPushedOnSync) {
  // A slow server: were the entry published before its SVID arrived, the
  // fetch below would find none.
  node_->SetSignDelay(absl::Milliseconds(300));
  StartAgent(node_->address());
  ASSERT_TRUE(WaitFor([&] { return node_->attests() == 1; }));
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  // The first fetch after the entry arrived is answered at once: its SVID
  // was fetched before the entry was published.
  absl::StatusOr<identity::workload::X509Context> context = Fetch();
  ASSERT_TRUE(context.ok()) << context.status();
  ASSERT_EQ(context->svids.size(), 1u);
  EXPECT_EQ(context->svids[0].id.ToString(), "spiffe://example.org/web");
  EXPECT_EQ(context->bundles.size(), 1u);
  EXPECT_THAT(node_->sign_batches(), ElementsAre(1));
}

TEST_F(ServerModeTest, AttestsWithX509Pop) {
  identity::X509SvidRequest request{
      *identity::SpiffeId::FromString("spiffe://example.org/node/n1")};
  absl::StatusOr<identity::X509Svid> node =
      identity::MintX509Svid(request, ca_->root, clock_);
  ASSERT_TRUE(node.ok()) << node.status();
  std::ofstream(dir_ + "/node.pem") << identity::CertsToPem(node->chain);
  std::ofstream(dir_ + "/node.key")
      << *identity::PrivateKeyToPkcs8Pem(*node->key);
  StartAgent(node_->address(), "x509pop: {cert: node.pem, key: node.key}");
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  EXPECT_TRUE(Fetch().ok());
  EXPECT_EQ(node_->attests(), 1);
}

TEST_F(ServerModeTest, JwtSvidsAreSignedByTheServer) {
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  absl::StatusOr<std::string> token =
      client_->FetchJwtSvid("kafka", "", absl::Seconds(5));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, absl::StrCat("jwt-for-", kEntryA, "-kafka"));
}

// Push, not poll: each entry created on the server is fetchable on the node
// soon after. The figures (the goal is p99 < 1 s) are recorded, not
// asserted: a loaded test machine is not the production path.
TEST_F(ServerModeTest, CreateToFetchableLatency) {
  StartAgent(node_->address());
  ASSERT_TRUE(WaitFor([&] { return node_->attests() == 1; }));
  std::vector<pb::Entry> entries;
  std::vector<absl::Duration> took;
  for (int i = 1; i <= 20; ++i) {
    const std::string id = absl::StrCat("spiffe://example.org/w", i);
    entries.push_back(
        MakeEntry(absl::StrFormat("%032x", i), id, {uid_selector_}));
    const absl::Time start = absl::Now();
    node_->SetEntries(entries);
    ASSERT_TRUE(WaitFor([&] {
      absl::StatusOr<identity::workload::X509Context> c = Fetch();
      return c.ok() && c->svids.size() == static_cast<size_t>(i);
    })) << "entry "
        << i << " never became fetchable";
    took.push_back(absl::Now() - start);
  }
  std::sort(took.begin(), took.end());
  RecordProperty("create_to_fetchable_p50_ms",
                 absl::StrCat(absl::ToDoubleMilliseconds(took[9])));
  RecordProperty("create_to_fetchable_max_ms",
                 absl::StrCat(absl::ToDoubleMilliseconds(took.back())));
}

TEST_F(ServerModeTest, BundleOfAnotherTrustDomainIsNotServed) {
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  node_->SetBundleTrustDomain("other.org");
  node_->SetEntries({});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(0); }));
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  absl::StatusOr<identity::workload::X509Context> context = Fetch();
  ASSERT_TRUE(context.ok()) << context.status();
  ASSERT_EQ(context->bundles.size(), 1u);
  const identity::X509Bundle& bundle = context->bundles.begin()->second;
  EXPECT_EQ(bundle.trust_domain().name(), "example.org");
  ASSERT_EQ(bundle.roots().size(), 1u);
  EXPECT_EQ(identity::CertsToPem(identity::ShareChain(bundle.roots())),
            ca_->root_pem);
}

TEST_F(ServerModeTest, DeletedEntryIsRefused) {
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  ASSERT_TRUE(Fetch().ok());
  node_->SetEntries({});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(0); }));
  EXPECT_THAT(Fetch(), StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("no registration entry matches this "
                                          "workload")));
}

TEST_F(ServerModeTest, RenewsInOneBatchAtHalfLife) {
  node_->SetSvidTtl(absl::Minutes(1));
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/a", {uid_selector_}),
       MakeEntry(kEntryB, "spiffe://example.org/b", {uid_selector_}),
       MakeEntry(kEntryC, "spiffe://example.org/c", {"unix:uid:99999"})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(3); }));
  absl::StatusOr<identity::workload::X509Context> before = Fetch();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->svids.size(), 2u);
  agent_->Tick(false);  // nothing due yet
  EXPECT_THAT(node_->sign_batches(), ElementsAre(3));
  // Half of a minute, plus the 10% jitter.
  clock_.Advance(absl::Seconds(34));
  agent_->Tick(false);
  EXPECT_THAT(node_->sign_batches(), ElementsAre(3, 3));
  absl::StatusOr<identity::workload::X509Context> after = Fetch();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->svids.size(), 2u);
  EXPECT_NE(LeafDer(*before, 0), LeafDer(*after, 0));
  EXPECT_NE(LeafDer(*before, 1), LeafDer(*after, 1));
}

TEST_F(ServerModeTest, FailsOverFromADeadReplica) {
  StartAgent(absl::StrCat(DeadAddress(), ", ", node_->address()));
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  EXPECT_TRUE(Fetch().ok());
  EXPECT_EQ(node_->attests(), 1);
}

TEST_F(ServerModeTest, FailsOverWhenTheReplicaInUseDies) {
  absl::StatusOr<std::unique_ptr<FakeNode>> second =
      FakeNode::Start(*ca_, clock_);
  ASSERT_TRUE(second.ok()) << second.status();
  StartAgent(absl::StrCat(node_->address(), ", ", (*second)->address()));
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/a", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  node_->Shutdown();
  (*second)->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/a", {uid_selector_}),
       MakeEntry(kEntryB, "spiffe://example.org/b", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(2); }));
  absl::StatusOr<identity::workload::X509Context> context = Fetch();
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->svids.size(), 2u);
  EXPECT_EQ((*second)->attests(), 0);  // the agent SVID carried over
}

// What an alert on a node that stopped renewing reads: the agent's own SVID
// expiry and when it was last renewed, the last successful sign, and when
// the served SVIDs and bundle roots expire.
TEST_F(ServerModeTest, MetricsCarryExpiriesAndTheLastRenewalAndSign) {
  node_->SetSvidTtl(absl::Minutes(1));  // the agent SVID gets 4 minutes
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] {
    return EntriesApplied(1) &&
           Metric("mayfly_agent_server_last_sign_seconds") > 0;
  }));
  const absl::Time start = clock_.Now();
  EXPECT_EQ(Metric("mayfly_agent_identity_renewed_seconds"),
            metrics::TimestampSeconds(start));
  EXPECT_EQ(Metric("mayfly_agent_identity_expiry_seconds"),
            absl::ToUnixSeconds(start + absl::Minutes(4)));
  EXPECT_EQ(Metric("mayfly_agent_server_last_sign_seconds"),
            metrics::TimestampSeconds(start));
  EXPECT_EQ(Metric("mayfly_agent_server_svid_soonest_expiry_seconds"),
            absl::ToUnixSeconds(start + absl::Minutes(1)));
  EXPECT_EQ(Metric("mayfly_agent_bundle_root_earliest_expiry_seconds"),
            absl::ToUnixSeconds(identity::CertNotAfter(*ca_->root.cert)));

  clock_.Advance(absl::Seconds(121));
  agent_->Tick(false);
  ASSERT_EQ(node_->renewals(), 1);
  EXPECT_EQ(Metric("mayfly_agent_identity_renewed_seconds"),
            metrics::TimestampSeconds(clock_.Now()));
  EXPECT_EQ(Metric("mayfly_agent_identity_expiry_seconds"),
            absl::ToUnixSeconds(clock_.Now() + absl::Minutes(4)));
}

TEST_F(ServerModeTest, RenewsTheAgentSvidAtHalfLife) {
  node_->SetSvidTtl(absl::Minutes(1));  // the agent SVID gets 4 minutes
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  clock_.Advance(absl::Seconds(119));
  agent_->Tick(false);
  EXPECT_EQ(node_->renewals(), 0);
  clock_.Advance(absl::Seconds(2));
  agent_->Tick(false);
  EXPECT_EQ(node_->renewals(), 1);
  // The new agent SVID carries the calls that follow (new mTLS channels).
  node_->SetEntries(
      {MakeEntry(kEntryB, "spiffe://example.org/b", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<identity::workload::X509Context> c = Fetch();
    return c.ok() && c->svids[0].id.ToString() == "spiffe://example.org/b";
  }));
}

TEST_F(ServerModeTest, RestartWithServerDownServesFromCache) {
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  absl::StatusOr<identity::workload::X509Context> before = Fetch();
  ASSERT_TRUE(before.ok()) << before.status();
  agent_.reset();
  client_.reset();
  node_->Shutdown();

  StartAgent(node_->address());
  absl::StatusOr<identity::workload::X509Context> cached = Fetch();
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->svids[0].id.ToString(), "spiffe://example.org/web");
  EXPECT_EQ(LeafDer(*before, 0), LeafDer(*cached, 0));
  EXPECT_TRUE(
      WaitFor([&] { return MetricIs("mayfly_agent_server_reachable", "0"); }));
  EXPECT_THAT(agent_->RenderMetrics(),
              HasSubstr("mayfly_agent_server_unreachable_since_seconds " +
                        absl::StrCat(absl::ToUnixSeconds(clock_.Now()))));
  // Past its expiry, with no server to renew it, the SVID is not served.
  clock_.Advance(absl::Minutes(6));
  agent_->Tick(false);
  EXPECT_THAT(Fetch(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("expired")));
}

// A root rotation under a running agent: the server publishes the next
// root on Sync, then switches its own chain to it. The agent's config still
// names only the old root, yet the agent reconnects to the rotated server,
// and so does the same agent after a restart (the roots live in its cache).
TEST_F(ServerModeTest, FollowsTheServersTrustAcrossARootRotation) {
  absl::StatusOr<TestCa> next = TestCa::Create(clock_);
  ASSERT_TRUE(next.ok()) << next.status();
  StartAgent(node_->address());
  identity::CertChain next_root;
  next_root.push_back(identity::ShareCert(next->root.cert.get()));
  node_->SetExtraRoots({identity::CertsToDer(next_root)});
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<identity::workload::X509Context> c = Fetch();
    return c.ok() && c->bundles.size() == 1 &&
           c->bundles.begin()->second.roots().size() == 2;
  }));
  // The rotated server: its chain leads to the next root only.
  absl::StatusOr<std::unique_ptr<FakeNode>> rotated =
      FakeNode::Start(*next, clock_);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  (*rotated)->SetEntries(
      {MakeEntry(kEntryB, "spiffe://example.org/b", {uid_selector_})});
  agent_.reset();
  client_.reset();
  node_->Shutdown();
  StartAgent((*rotated)->address());
  EXPECT_TRUE(WaitFor([&] {
    absl::StatusOr<identity::workload::X509Context> c = Fetch();
    return c.ok() && c->svids.size() == 1 &&
           c->svids[0].id.ToString() == "spiffe://example.org/b";
  })) << "the restarted agent did not sync from the rotated server";
}

// A server: block whose bundle file is missing is an error, not a crash
// (the half-built agent is destroyed).
TEST_F(ServerModeTest, MissingServerBundleIsAnError) {
  absl::StatusOr<AgentConfig> config = ParseAgentConfig(
      absl::StrCat("trust_domain: example.org\nsocket_path: ", dir_,
                   "/api.sock\nstate_dir: ", dir_,
                   "/state\nserver:\n  address: [", node_->address(),
                   "]\n  bundle: missing.pem\n  join_token: t\n"),
      "test config", dir_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(Agent::Create(*config, "", clock_).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.pem")));
}

TEST_F(ServerModeTest, EvictedAgentStopsServing) {
  StartAgent(node_->address());
  node_->SetEntries(
      {MakeEntry(kEntryA, "spiffe://example.org/web", {uid_selector_})});
  ASSERT_TRUE(WaitFor([&] { return EntriesApplied(1); }));
  ASSERT_TRUE(Fetch().ok());
  node_->Evict();
  // The next renewal is refused.
  clock_.Advance(absl::Minutes(3));
  agent_->Tick(false);
  EXPECT_TRUE(MetricIs("mayfly_agent_evicted", "1"));
  EXPECT_THAT(Fetch(), StatusIs(absl::StatusCode::kPermissionDenied,
                                HasSubstr("refused by mayfly-server")));
}

}  // namespace
}  // namespace mayfly::agent
