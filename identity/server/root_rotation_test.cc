// Root rotation driven by mayfly-server in ca_dir mode, on the file store
// and a fake clock: `mayfly ca rotate` prepares, Maintain() publishes the
// next root, promotes it only after root_rotation_lead, renews the
// intermediate under it at once, and after drop_after removes the retired
// root from the store's bundle; a leaf signed before the switch verifies
// against the store's bundle until it expires.
#include "identity/root_rotation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "identity/ca.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/x509_verify.h"

namespace mayfly::server {
namespace {

using ::testing::ElementsAre;
using testing::ServerFixture;
using testing::TestAgent;

// The next root's lifetime; long enough not to matter here.
constexpr absl::Duration kRootTtl = absl::Hours(24 * 365);

class RootRotationTest : public ServerFixture {
 protected:
  std::string CaDir() const { return dir_ + "/state/ca"; }
  identity::TrustDomain Td() const {
    return *identity::TrustDomain::FromString("example.org");
  }

  std::vector<std::string> StoreRoots() {
    absl::StatusOr<v1::Bundle> b = server_->store().GetBundle();
    EXPECT_TRUE(b.ok()) << b.status();
    return {b->x509_roots().begin(), b->x509_roots().end()};
  }

  identity::X509Bundle BundleOf(const std::vector<std::string>& roots_der) {
    identity::X509Bundle bundle(Td());
    for (const std::string& der : roots_der) {
      bundle.AddRoot(*(*identity::CertsFromDer(der))[0]);
    }
    return bundle;
  }

  // A workload leaf from the server's signer, as SignX509 makes one.
  identity::CertChain SignLeaf(absl::Duration ttl) {
    identity::UniqueEvpPkey key =
        *identity::GenerateKey(identity::kDefaultKeyType);
    identity::X509SvidRequest request{
        *identity::SpiffeId::FromString("spiffe://example.org/w"), ttl};
    absl::StatusOr<SignedLeaf> leaf = server_->signer().SignLeaf(request, *key);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    identity::CertChain chain;
    for (const std::string& der : leaf->chain_der) {
      chain.push_back(std::move((*identity::CertsFromDer(der))[0]));
    }
    return chain;
  }

  bool Verifies(const identity::CertChain& chain,
                const std::vector<std::string>& roots_der) {
    return identity::VerifyX509Svid(chain, BundleOf(roots_der), clock_.Now())
        .ok();
  }

  std::string ServerTlsRoot() {
    identity::CertChain chain = *identity::CertsFromPem(
        *identity::ReadFile(server_->server_cert_path()));
    return identity::CertToDer(*chain.back());
  }

  void MaintainOk() {
    absl::Status s = server_->Maintain();
    ASSERT_TRUE(s.ok()) << s;
  }
};

TEST_F(RootRotationTest, PublishesPromotesAfterTheLeadAndDropsTheOldRoot) {
  const std::string old_root = server_->signer().Current()->root_der;
  ASSERT_THAT(StoreRoots(), ElementsAre(old_root));

  ASSERT_TRUE(identity::PrepareRootRotation(CaDir(), kRootTtl, clock_).ok());
  const std::string next_root =
      identity::CertToDer(**identity::ReadNextRoot(CaDir()));
  MaintainOk();
  // Every agent learns the next root before anything is signed by it.
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  const identity::CertChain before = SignLeaf(absl::Hours(1));
  EXPECT_TRUE(Verifies(before, {old_root}));
  EXPECT_FALSE(Verifies(before, {next_root}));

  // Just short of the lead: the old root still signs.
  clock_.Advance(kDefaultRootRotationLead - absl::Seconds(1));
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, old_root);
  EXPECT_FALSE(Verifies(SignLeaf(absl::Hours(1)), {next_root}));
  EXPECT_EQ(ServerTlsRoot(), old_root);

  // The lead has passed: the intermediate and the server's TLS SVID chain
  // to the new root; the old root stays in the bundle.
  clock_.Advance(absl::Seconds(1));
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, next_root);
  EXPECT_TRUE(Verifies(SignLeaf(absl::Hours(1)), {next_root}));
  EXPECT_EQ(ServerTlsRoot(), next_root);
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  absl::StatusOr<identity::RootRotationState> state =
      identity::InspectRootRotation(CaDir());
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->phase, identity::RootRotationState::Phase::kRetiring);

  // The leaf signed before the switch verifies against the store's bundle
  // until it expires.
  EXPECT_TRUE(Verifies(before, StoreRoots()));
  clock_.Advance(absl::Hours(1) - kDefaultRootRotationLead - absl::Seconds(1));
  MaintainOk();
  EXPECT_TRUE(Verifies(before, StoreRoots()));

  // Just before drop_after the old root is still trusted; at drop_after it
  // leaves the store's bundle and the CA directory.
  clock_.Advance(state->drop_after - clock_.Now() - absl::Seconds(1));
  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  clock_.Advance(absl::Seconds(1));
  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(next_root));
  EXPECT_EQ(
      identity::CertToDer(*(*identity::ReadCaBundle(CaDir())).roots().front()),
      next_root);
  EXPECT_EQ((*identity::ReadCaBundle(CaDir())).roots().size(), 1u);
  EXPECT_EQ(identity::InspectRootRotation(CaDir())->phase,
            identity::RootRotationState::Phase::kIdle);
  EXPECT_EQ(sink_.Count("root_rotation_old_root_dropped",
                        {{"removed_from_store", "true"}}),
            1);
  // Nothing puts the old root back.
  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(next_root));
}

TEST_F(RootRotationTest, WaitsUntilEverySyncStreamWasSentTheNextRoot) {
  const std::string old_root = server_->signer().Current()->root_der;
  TestAgent agent = NewAgent();
  grpc::ClientContext ctx;
  auto stream = agent.node->Sync(&ctx, v1::SyncRequest());
  v1::SyncResponse state;
  ASSERT_TRUE(stream->Read(&state));
  // A stream that has been sent nothing yet, as one stuck in its Write.
  const SyncDelivery::StreamId stuck = server_->sync_delivery().Open();

  ASSERT_TRUE(identity::PrepareRootRotation(CaDir(), kRootTtl, clock_).ok());
  const std::string next_root =
      identity::CertToDer(**identity::ReadNextRoot(CaDir()));
  MaintainOk();
  const int64_t published = server_->store().kv().Get(kBundleKey)->mod_revision;
  // The agent's stream is pushed the bundle with both roots.
  while (state.bundle().x509_roots_size() != 2) {
    ASSERT_TRUE(stream->Read(&state));
  }
  EXPECT_THAT(state.bundle().x509_roots(), ElementsAre(old_root, next_root));
  // The server records the send once its Write returns: wait for that,
  // bounded.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->sync_delivery().BehindRevision(published) > 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server_->sync_delivery().BehindRevision(published), 1);

  // The lead has passed, but one stream has not been sent the next root.
  clock_.Advance(kDefaultRootRotationLead);
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, old_root);
  EXPECT_EQ(
      sink_.Count("root_rotation_waiting_for_sync", {{"streams_behind", "1"}}),
      1);
  server_->sync_delivery().Sent(stuck, published - 1);
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, old_root);

  // Sent a state that carries it: the next root signs.
  server_->sync_delivery().Sent(stuck, published);
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, next_root);
  server_->sync_delivery().Close(stuck);
  ctx.TryCancel();
}

}  // namespace
}  // namespace mayfly::server
