// StoreCache over a real FileKvStore: the per-agent view (own ID and
// aliases), pushes only to the agents a change touches, and a resync after
// the watch fails (OutOfRange, as a compacted etcd revision).
#include "identity/server/store_cache.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/server/file_kv_store.h"
#include "identity/server/forwarding_kv_store.h"
#include "identity/server/server_store.h"

namespace mayfly::server {
namespace {

constexpr char kAgentA[] = "spiffe://example.org/mayfly/agent/a";
constexpr char kAgentB[] = "spiffe://example.org/mayfly/agent/b";
constexpr char kAlias[] = "spiffe://example.org/alias/kafka";
// Long enough never to pass in a healthy run; only a hang reaches it.
constexpr absl::Duration kWait = absl::Seconds(10);

// Forwards to a real store and keeps the newest watch callback, so a test
// can end the watch with an error as a store would.
class TappedKvStore : public ForwardingKvStore {
 public:
  using ForwardingKvStore::ForwardingKvStore;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& p, int64_t from,
      std::function<void(const WatchBatch&)> cb) override {
    {
      absl::MutexLock lock(&mu_);
      last_ = cb;
      ++watches_;
    }
    return ForwardingKvStore::Watch(p, from, std::move(cb));
  }
  void Fail(absl::Status status) {
    std::function<void(const WatchBatch&)> cb;
    {
      absl::MutexLock lock(&mu_);
      cb = last_;
    }
    WatchBatch batch;
    batch.status = std::move(status);
    cb(batch);
  }
  int watches() {
    absl::MutexLock lock(&mu_);
    return watches_;
  }

 private:
  absl::Mutex mu_;
  std::function<void(const WatchBatch&)> last_ ABSL_GUARDED_BY(mu_);
  int watches_ ABSL_GUARDED_BY(mu_) = 0;
};

class StoreCacheTest : public ::testing::Test {
 protected:
  StoreCacheTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*identity::TrustDomain::FromString("example.org")) {}

  void SetUp() override {
    kv_ = *FileKvStore::Open(absl::StrCat(
        std::getenv("TEST_TMPDIR"), "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    tap_ = std::make_unique<TappedKvStore>(*kv_);
    store_ = std::make_unique<ServerStore>(*tap_, td_, clock_);
    v1::Agent a;
    a.set_spiffe_id(kAgentA);
    a.add_aliases(kAlias);
    ASSERT_TRUE(store_->UpsertAttestedAgent(a).ok());
    auto cache = StoreCache::Create(*tap_, clock_);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *std::move(cache);
  }

  v1::Entry Create(const std::string& spiffe_id, const std::string& parent) {
    v1::Entry e;
    e.set_spiffe_id(spiffe_id);
    e.set_parent_id(parent);
    e.add_selectors("unix:uid:1");
    return *store_->CreateEntry(e);
  }

  identity::FakeClock clock_;
  identity::TrustDomain td_;
  std::unique_ptr<FileKvStore> kv_;
  std::unique_ptr<TappedKvStore> tap_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<StoreCache> cache_;
};

TEST_F(StoreCacheTest, ViewHasOwnAndAliasEntriesAndPushesOnlyThere) {
  auto sub_a = cache_->Subscribe(kAgentA);
  auto sub_b = cache_->Subscribe(kAgentB);
  const v1::Entry own = Create("spiffe://example.org/own", kAgentA);
  ASSERT_TRUE(sub_a->WaitForChange(kWait));
  const v1::Entry via_alias = Create("spiffe://example.org/kafka", kAlias);
  ASSERT_TRUE(sub_a->WaitForChange(kWait));
  Create("spiffe://example.org/theirs", kAgentB);
  ASSERT_TRUE(sub_b->WaitForChange(kWait));
  // B's entry did not wake A (its last wake-up was consumed above).
  EXPECT_FALSE(sub_a->WaitForChange(absl::ZeroDuration()));

  StoreCache::AgentView view = cache_->ViewFor(kAgentA);
  EXPECT_TRUE(view.known);
  std::vector<std::string> ids;
  for (const v1::Entry& e : view.entries) ids.push_back(e.id());
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre(own.id(), via_alias.id()));
  EXPECT_EQ(view.revision, kv_->Range("/", 100)->revision);
  cache_->Unsubscribe(sub_a);
  cache_->Unsubscribe(sub_b);
}

TEST_F(StoreCacheTest, AgentRenewalWakesNoStreamButEvictionDoes) {
  auto sub_a = cache_->Subscribe(kAgentA);
  auto sub_b = cache_->Subscribe(kAgentB);
  // A renewal rewrites A's record but changes nothing a Sync carries.
  ASSERT_TRUE(store_->RecordAgentSvid(kAgentA, "01ab", 1800003600).ok());
  // B's wake-up comes from a later change: the watch delivers in order, so
  // the cache has applied the renewal by then.
  Create("spiffe://example.org/theirs", kAgentB);
  ASSERT_TRUE(sub_b->WaitForChange(kWait));
  EXPECT_FALSE(sub_a->WaitForChange(absl::ZeroDuration()));
  EXPECT_EQ(cache_->ViewFor(kAgentA).agent.svid_serial(), "01ab");

  ASSERT_TRUE(store_->EvictAgent(kAgentA).ok());
  ASSERT_TRUE(sub_a->WaitForChange(kWait));
  EXPECT_TRUE(cache_->ViewFor(kAgentA).agent.evicted());
  cache_->Unsubscribe(sub_a);
  cache_->Unsubscribe(sub_b);
}

TEST_F(StoreCacheTest, ResyncsAfterTheWatchFails) {
  auto sub = cache_->Subscribe(kAgentA);
  ASSERT_EQ(tap_->watches(), 1);
  tap_->Fail(absl::OutOfRangeError("revision 1 is compacted"));
  // The reload wakes every subscriber: it may have missed anything.
  ASSERT_TRUE(sub->WaitForChange(kWait));
  EXPECT_EQ(tap_->watches(), 2);
  const v1::Entry e = Create("spiffe://example.org/after", kAgentA);
  ASSERT_TRUE(sub->WaitForChange(kWait));
  StoreCache::AgentView view = cache_->ViewFor(kAgentA);
  ASSERT_EQ(view.entries.size(), 1u);
  EXPECT_EQ(view.entries[0].id(), e.id());
  EXPECT_EQ(view.entries[0].revision(), e.revision());
  cache_->Unsubscribe(sub);
}

}  // namespace
}  // namespace mayfly::server
