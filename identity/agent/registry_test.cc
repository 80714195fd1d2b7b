// The registry under a fake clock: matching, minting on demand, renewal at
// half-life with jitter, revocation when an entry goes away, bundle pushes.
#include "identity/agent/registry.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/authority.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_verify.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kTtl = absl::Minutes(5);

class Recorder : public X509Subscriber {
 public:
  void Deliver(const X509Update& update) override {
    absl::MutexLock lock(&mu_);
    updates_.push_back(update);
  }
  void Revoke(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    revoked_ = status;
  }
  uint64_t DeliveredBundleGeneration() const override {
    absl::MutexLock lock(&mu_);
    return updates_.empty() ? 0 : updates_.back().bundle_generation;
  }
  std::vector<X509Update> updates() const {
    absl::MutexLock lock(&mu_);
    return updates_;
  }
  absl::Status revoked() const {
    absl::MutexLock lock(&mu_);
    return revoked_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<X509Update> updates_;
  absl::Status revoked_;
};

RegistrationEntry Entry(const std::string& id, std::vector<std::string> sels,
                        std::string hint = "") {
  return RegistrationEntry{*identity::SpiffeId::FromString(id),
                           std::move(sels),
                           absl::ZeroDuration(),
                           {},
                           std::move(hint),
                           {},
                           "test:1"};
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir =
        std::string(std::getenv("TEST_TMPDIR")) + "/" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto upstream = DiskUpstreamAuthority::Open(
        dir, *identity::TrustDomain::FromString("example.org"), clock_);
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    auto authority =
        Authority::Create(*std::move(upstream), absl::Hours(1), clock_);
    ASSERT_TRUE(authority.ok()) << authority.status();
    authority_ = *std::move(authority);
  }

  // The leaf of an X509SVID message, verified against its own bundle.
  identity::VerifiedSvid Verify(const X509SVID& svid) {
    auto chain = identity::CertsFromDer(svid.x509_svid());
    EXPECT_TRUE(chain.ok()) << chain.status();
    auto bundle = identity::X509Bundle::FromDer(
        *identity::TrustDomain::FromString("example.org"), svid.bundle());
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    auto verified = identity::VerifyX509Svid(*chain, *bundle, clock_.Now());
    EXPECT_TRUE(verified.ok()) << verified.status();
    return *std::move(verified);
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<Authority> authority_;
  Registry registry_{clock_, kTtl};
};

// One TTL for an entry, shared by its X.509-SVIDs and its JWT-SVIDs.
TEST_F(RegistryTest, EffectiveTtlIsTheEntrysElseTheDefault) {
  RegistrationEntry entry = Entry("spiffe://example.org/a", {"unix:uid:1"});
  EXPECT_EQ(registry_.EffectiveTtl(entry), kTtl);
  entry.ttl = absl::Seconds(30);
  EXPECT_EQ(registry_.EffectiveTtl(entry), absl::Seconds(30));
}

TEST_F(RegistryTest, UnavailableBeforeSigningState) {
  registry_.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  EXPECT_THAT(registry_.Fetch({"unix:uid:1"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("signing")));
}

TEST_F(RegistryTest, NoMatchIsPermissionDenied) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  EXPECT_THAT(registry_.Fetch({"unix:uid:2"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no registration entry")));
}

TEST_F(RegistryTest, EveryEntrySelectorMustBeTheWorkloads) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries(
      {Entry("spiffe://example.org/both", {"unix:gid:5", "unix:uid:1"})});
  EXPECT_THAT(registry_.Fetch({"unix:gid:6", "unix:uid:1"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no registration entry matches this "
                                 "workload")));
  auto update =
      registry_.Fetch({"unix:gid:5", "unix:path:/bin/x", "unix:uid:1"});
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->response->svids_size(), 1);
  EXPECT_EQ(update->response->svids(0).spiffe_id(),
            "spiffe://example.org/both");
}

TEST_F(RegistryTest, ResponseListsMatchesInRegistrationOrder) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries({Entry("spiffe://example.org/z", {"unix:uid:1"}, "z"),
                        Entry("spiffe://example.org/other", {"unix:uid:2"}),
                        Entry("spiffe://example.org/a", {"unix:uid:1"}, "a")});
  auto update = registry_.Fetch({"unix:uid:1"});
  ASSERT_TRUE(update.ok()) << update.status();
  std::vector<std::string> ids, hints;
  for (const X509SVID& svid : update->response->svids()) {
    ids.push_back(svid.spiffe_id());
    hints.push_back(svid.hint());
    EXPECT_EQ(Verify(svid).id.ToString(), svid.spiffe_id());
    // The key is the leaf's.
    auto key = identity::PrivateKeyFromPkcs8Der(svid.x509_svid_key());
    ASSERT_TRUE(key.ok()) << key.status();
    auto chain = identity::CertsFromDer(svid.x509_svid());
    EXPECT_EQ(X509_check_private_key((*chain)[0].get(), key->get()), 1);
    // Leaf and intermediate: the root travels only in the bundle.
    EXPECT_EQ(chain->size(), 2u);
  }
  EXPECT_THAT(ids,
              ElementsAre("spiffe://example.org/z", "spiffe://example.org/a"));
  EXPECT_THAT(hints, ElementsAre("z", "a"));
  EXPECT_EQ(update->bundle_generation, 1u);
}

TEST_F(RegistryTest, WatchedSvidRenewsBetween45And55PercentOfItsLife) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  auto recorder = std::make_shared<Recorder>();
  auto first = registry_.Subscribe({"unix:uid:1"}, recorder);
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::Time minted = clock_.Now();
  const std::string first_leaf = first->response->svids(0).x509_svid();

  clock_.SetTime(minted + kTtl * 0.45 - absl::Seconds(1));
  const absl::Time next = registry_.RunDue();
  EXPECT_TRUE(recorder->updates().empty());
  EXPECT_GE(next, minted + kTtl * 0.45);
  EXPECT_LE(next, minted + kTtl * 0.55);

  clock_.SetTime(next);
  registry_.RunDue();
  auto updates = recorder->updates();
  ASSERT_EQ(updates.size(), 1u);
  const X509SVID& renewed = updates[0].response->svids(0);
  EXPECT_NE(renewed.x509_svid(), first_leaf);
  EXPECT_NE(renewed.x509_svid_key(), first->response->svids(0).x509_svid_key());
  const identity::VerifiedSvid v = Verify(renewed);
  // Certificates hold whole seconds.
  EXPECT_EQ(v.expiry, absl::FromUnixSeconds(absl::ToUnixSeconds(next)) + kTtl);
  EXPECT_EQ(registry_.GetStats().svids_minted, 2);
}

TEST_F(RegistryTest, UnwatchedSvidIsDroppedNotRenewed) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  ASSERT_TRUE(registry_.Fetch({"unix:uid:1"}).ok());
  EXPECT_EQ(registry_.GetStats().cached_svids, 1);
  clock_.Advance(kTtl * 0.56);
  EXPECT_EQ(registry_.RunDue(), absl::InfiniteFuture());
  EXPECT_EQ(registry_.GetStats().cached_svids, 0);
  EXPECT_EQ(registry_.GetStats().svids_minted, 1);
  ASSERT_TRUE(registry_.Fetch({"unix:uid:1"}).ok());
  EXPECT_EQ(registry_.GetStats().svids_minted, 2);
}

// A source like the server mode's: it renews by itself (renew_at is the
// SVID's NotAfter) and, once its server is out of reach, has nothing newer.
class OneShotSource : public SvidSource {
 public:
  explicit OneShotSource(const identity::Clock& clock) : local_(clock) {}
  absl::StatusOr<SvidMaterial> Get(const RegistrationEntry& entry,
                                   absl::Duration ttl,
                                   const SigningState& signing) override {
    if (calls_++ > 0) return absl::UnavailableError("server unreachable");
    absl::StatusOr<SvidMaterial> got = local_.Get(entry, ttl, signing);
    if (got.ok()) got->renew_at = got->not_after;
    return got;
  }

 private:
  LocalSvidSource local_;
  int calls_ = 0;
};

// Between two turns of RunDue, a fetch must not be handed an SVID whose
// NotAfter has passed (seen on a cluster node cut off from its servers).
TEST_F(RegistryTest, AnExpiredSvidIsNeverServedEvenBeforeRunDue) {
  OneShotSource source(clock_);
  Registry registry(clock_, kTtl, source);
  registry.SetSigningState(authority_->Current());
  registry.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  ASSERT_TRUE(registry.Fetch({"unix:uid:1"}).ok());
  clock_.Advance(kTtl + absl::Milliseconds(1));
  // Each fetch (no stream holds a group) builds its response from the slot.
  EXPECT_THAT(registry.Fetch({"unix:gid:7", "unix:uid:1"}).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("server unreachable")));
  EXPECT_THAT(registry.Fetch({"unix:uid:1"}).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("server unreachable")));
}

// Issue 8 item 16: a registered entry nobody fetches must cost its entry
// only, never an SVID (minted at registration, on reload or by RunDue).
TEST_F(RegistryTest, RegisteredEntriesMintNothingUntilFetched) {
  registry_.SetSigningState(authority_->Current());
  std::vector<RegistrationEntry> entries;
  for (int i = 0; i < 100; ++i) {
    entries.push_back(Entry("spiffe://example.org/w" + std::to_string(i),
                            {"unix:gid:" + std::to_string(i)}));
  }
  registry_.SetEntries(entries);
  registry_.SetEntries(entries);
  EXPECT_EQ(registry_.RunDue(), absl::InfiniteFuture());
  EXPECT_EQ(registry_.GetStats().entries, 100);
  EXPECT_EQ(registry_.GetStats().svids_minted, 0);
  EXPECT_EQ(registry_.GetStats().cached_svids, 0);
  ASSERT_TRUE(registry_.Fetch({"unix:gid:7"}).ok());
  EXPECT_EQ(registry_.GetStats().svids_minted, 1);
  EXPECT_EQ(registry_.GetStats().cached_svids, 1);
}

TEST_F(RegistryTest, EntriesRegisteredTogetherRenewAtDifferentTimes) {
  registry_.SetSigningState(authority_->Current());
  constexpr int kEntries = 60;
  std::vector<RegistrationEntry> entries;
  for (int i = 0; i < kEntries; ++i) {
    entries.push_back(Entry("spiffe://example.org/w" + std::to_string(i),
                            {"unix:uid:" + std::to_string(1000 + i)}));
  }
  registry_.SetEntries(entries);
  std::vector<std::shared_ptr<Recorder>> recorders;
  for (int i = 0; i < kEntries; ++i) {
    recorders.push_back(std::make_shared<Recorder>());
    ASSERT_TRUE(registry_
                    .Subscribe({"unix:uid:" + std::to_string(1000 + i)},
                               recorders.back())
                    .ok());
  }
  // Step through the jitter window one second at a time.
  const absl::Time start = clock_.Now();
  std::map<int64_t, int> renewals_at_second;
  for (absl::Time t = start + kTtl * 0.44; t <= start + kTtl * 0.56;
       t += absl::Seconds(1)) {
    clock_.SetTime(t);
    registry_.RunDue();
    int total = 0;
    for (const auto& r : recorders) total += r->updates().size();
    renewals_at_second[absl::ToUnixSeconds(t)] = total;
  }
  int previous = 0, largest_step = 0, steps_with_renewals = 0;
  for (const auto& [second, total] : renewals_at_second) {
    largest_step = std::max(largest_step, total - previous);
    steps_with_renewals += total > previous;
    previous = total;
  }
  EXPECT_EQ(previous, kEntries);  // every SVID renewed once
  // 60 renewals over a 30 s window: a stampede would put them in one step.
  EXPECT_LE(largest_step, kEntries / 4);
  EXPECT_GE(steps_with_renewals, 10);
}

TEST_F(RegistryTest, RemovedEntryRevokesItsWatchersAndKeepsOthers) {
  registry_.SetSigningState(authority_->Current());
  const auto a = Entry("spiffe://example.org/a", {"unix:uid:1"});
  const auto b = Entry("spiffe://example.org/b", {"unix:uid:2"});
  registry_.SetEntries({a, b});
  auto ra = std::make_shared<Recorder>();
  auto rb = std::make_shared<Recorder>();
  ASSERT_TRUE(registry_.Subscribe({"unix:uid:1"}, ra).ok());
  auto first_b = registry_.Subscribe({"unix:uid:2"}, rb);
  ASSERT_TRUE(first_b.ok());

  registry_.SetEntries({b});
  EXPECT_THAT(ra->revoked(), StatusIs(absl::StatusCode::kPermissionDenied,
                                      HasSubstr("any more")));
  // b is unchanged: same SVID, nothing new to send.
  EXPECT_TRUE(rb->updates().empty());
  EXPECT_TRUE(rb->revoked().ok());
  auto again = registry_.Fetch({"unix:uid:2"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->response->svids(0).x509_svid(),
            first_b->response->svids(0).x509_svid());
  EXPECT_EQ(registry_.GetStats().subscribers, 1);
}

TEST_F(RegistryTest, AddedEntryReachesMatchingWatchers) {
  registry_.SetSigningState(authority_->Current());
  const auto a = Entry("spiffe://example.org/a", {"unix:uid:1"});
  registry_.SetEntries({a});
  auto r = std::make_shared<Recorder>();
  ASSERT_TRUE(registry_.Subscribe({"unix:uid:1"}, r).ok());
  registry_.SetEntries(
      {a, Entry("spiffe://example.org/extra", {"unix:uid:1"})});
  auto updates = r->updates();
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_EQ(updates[0].response->svids_size(), 2);
  EXPECT_EQ(updates[0].response->svids(1).spiffe_id(),
            "spiffe://example.org/extra");
}

TEST_F(RegistryTest, NewBundleReachesEveryWatcher) {
  registry_.SetSigningState(authority_->Current());
  registry_.SetEntries({Entry("spiffe://example.org/a", {"unix:uid:1"})});
  auto r = std::make_shared<Recorder>();
  ASSERT_TRUE(registry_.Subscribe({"unix:uid:1"}, r).ok());
  EXPECT_FALSE(registry_.AllSubscribersHave(2));

  // Same signer, one more root.
  auto extra_root = identity::MintRootCa(
      identity::CaRequest{*identity::TrustDomain::FromString("example.org"),
                          absl::Hours(24)},
      clock_);
  ASSERT_TRUE(extra_root.ok());
  const SigningState& old = *authority_->Current();
  identity::X509Bundle bundle = old.bundle;
  bundle.AddRoot(*extra_root->cert);
  registry_.SetSigningState(std::make_shared<const SigningState>(
      SigningState{old.signer, old.chain_der, bundle, bundle.ToDer(), 2,
                   old.jwt_key, old.jwt_bundle, old.jwt_bundle_jwks}));

  auto updates = r->updates();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].bundle_generation, 2u);
  EXPECT_EQ(updates[0].response->svids(0).bundle(), bundle.ToDer());
  EXPECT_TRUE(registry_.AllSubscribersHave(2));
}

}  // namespace
}  // namespace mayfly::agent
