// ServerStore over a real FileKvStore: entry validation, the key layout by
// parent, a parent change, join tokens consumed exactly once (the race made
// deterministic by a store that runs the rival first), eviction, and the
// bundle merge that never drops another replica's root or JWT key, and the
// one narrow removal (a retired root, by its DER) that keeps the rest.
#include "identity/server/server_store.h"

#include <cstdlib>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/pem.h"
#include "identity/server/entry_rules.h"
#include "identity/server/file_kv_store.h"
#include "identity/server/forwarding_kv_store.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs `before_txn` once before the next Txn.
class HookedKvStore : public ForwardingKvStore {
 public:
  using ForwardingKvStore::ForwardingKvStore;
  absl::StatusOr<KeyValue> Get(const std::string& key) override {
    ++gets;
    return ForwardingKvStore::Get(key);
  }
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& c,
                                const std::vector<Op>& ops) override {
    if (auto hook = std::exchange(before_txn, nullptr)) hook();
    return ForwardingKvStore::Txn(c, ops);
  }
  std::function<void()> before_txn;
  int gets = 0;
};

class ServerStoreTest : public ::testing::Test {
 protected:
  ServerStoreTest()
      : clock_(absl::FromUnixSeconds(1800000000)),
        td_(*identity::TrustDomain::FromString("example.org")) {}

  void SetUp() override {
    kv_ = *FileKvStore::Open(absl::StrCat(
        std::getenv("TEST_TMPDIR"), "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    hooked_ = std::make_unique<HookedKvStore>(*kv_);
    store_ = std::make_unique<ServerStore>(*hooked_, td_, clock_);
  }

  v1::Entry Entry(const std::string& id, const std::string& parent) {
    v1::Entry e;
    e.set_spiffe_id(id);
    e.set_parent_id(parent);
    e.add_selectors("unix:uid:01000");
    e.add_selectors("unix:uid:1000");
    e.add_selectors("unix:sha256:" + std::string(64, 'A'));
    return e;
  }

  identity::FakeClock clock_;
  identity::TrustDomain td_;
  std::unique_ptr<FileKvStore> kv_;
  std::unique_ptr<HookedKvStore> hooked_;
  std::unique_ptr<ServerStore> store_;
};

constexpr char kAgentA[] = "spiffe://example.org/mayfly/agent/a";
constexpr char kAgentB[] = "spiffe://example.org/mayfly/agent/a/b";

TEST_F(ServerStoreTest, EntriesAreCanonicalAndKeyedByParent) {
  auto a = store_->CreateEntry(Entry("spiffe://example.org/web", kAgentA));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->id().size(), 32u);
  EXPECT_THAT(a->selectors(), ElementsAre("unix:sha256:" + std::string(64, 'a'),
                                          "unix:uid:1000"));
  auto b = store_->CreateEntry(Entry("spiffe://example.org/db", kAgentB));
  ASSERT_TRUE(b.ok());
  // A's prefix must not cover B's, though B's ID extends A's.
  auto only_a = *store_->ListEntries(kAgentA, "");
  ASSERT_EQ(only_a.entries_size(), 1);
  EXPECT_EQ(only_a.entries(0).id(), a->id());
  EXPECT_TRUE(kv_->Get(EntryKey(kAgentA, a->id())).ok());

  // Moving the entry to B removes it from A's prefix.
  v1::Entry moved = *a;
  moved.set_parent_id(kAgentB);
  ASSERT_TRUE(store_->UpdateEntry(moved).ok());
  EXPECT_EQ(store_->ListEntries(kAgentA, "")->entries_size(), 0);
  EXPECT_EQ(store_->ListEntries(kAgentB, "")->entries_size(), 2);
  EXPECT_EQ(store_->GetEntry(a->id())->parent_id(), kAgentB);
  ASSERT_TRUE(store_->DeleteEntry(a->id()).ok());
  EXPECT_THAT(store_->GetEntry(a->id()).status(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("no entry ", a->id()))));
}

TEST_F(ServerStoreTest, GetEntryOfParentReadsOnceAndOnlyThatParent) {
  auto a = store_->CreateEntry(Entry("spiffe://example.org/web", kAgentA));
  ASSERT_TRUE(a.ok()) << a.status();
  hooked_->gets = 0;
  auto got = store_->GetEntryOfParent(kAgentA, a->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->spiffe_id(), "spiffe://example.org/web");
  EXPECT_EQ(got->revision(), a->revision());
  EXPECT_EQ(hooked_->gets, 1);
  // B's ID extends A's; A's entry is still not B's.
  EXPECT_THAT(store_->GetEntryOfParent(kAgentB, a->id()).status(),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("no entry ", a->id()))));
  EXPECT_THAT(store_->GetEntryOfParent(kAgentA, "../x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("want 32 lowercase hex digits")));
}

TEST_F(ServerStoreTest, DuplicateEntryIsRefused) {
  auto a = store_->CreateEntry(Entry("spiffe://example.org/web", kAgentA));
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(
      store_->CreateEntry(Entry("spiffe://example.org/web", kAgentA)).status(),
      StatusIs(absl::StatusCode::kAlreadyExists,
               HasSubstr(absl::StrCat("entry ", a->id(),
                                      " has the same parent_id, spiffe_id and "
                                      "selectors"))));
  // Another parent may have the same workload.
  EXPECT_TRUE(
      store_->CreateEntry(Entry("spiffe://example.org/web", kAgentB)).ok());
}

// The agent reads DNS names case-insensitively (lowercase) and so names
// them in its CSRs; the server stores them the same way, or the CSR of an
// entry with "Web.Internal" would never match it.
TEST_F(ServerStoreTest, DnsNamesAreStoredAsTheAgentReadsThem) {
  v1::Entry e = Entry("spiffe://example.org/web", kAgentA);
  e.add_dns_names("Web.Internal");
  auto created = store_->CreateEntry(e);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->dns_names_size(), 1);
  EXPECT_EQ(created->dns_names(0), "web.internal");
  EXPECT_EQ(store_->GetEntry(created->id())->dns_names(0), "web.internal");
}

TEST_F(ServerStoreTest, ValidationQuotesTheBrokenRule) {
  auto check = [&](std::function<void(v1::Entry&)> change) {
    v1::Entry e = Entry("spiffe://example.org/web", kAgentA);
    change(e);
    return store_->CreateEntry(e).status();
  };
  EXPECT_THAT(
      check([](v1::Entry& e) { e.set_spiffe_id("spiffe://other.org/web"); }),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("spiffe_id: \"spiffe://other.org/web\" is "
                         "not in trust domain example.org")));
  for (const char* system_id :
       {"spiffe://example.org/mayfly/server", "spiffe://example.org/mayfly",
        "spiffe://example.org/mayfly/agent/join_token/00"}) {
    EXPECT_THAT(check([&](v1::Entry& e) { e.set_spiffe_id(system_id); }),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat(
                             "spiffe_id: \"", system_id,
                             "\": /mayfly/... is reserved for mayfly-server "
                             "and its agents"))));
  }
  EXPECT_TRUE(check([](v1::Entry& e) {
                e.set_spiffe_id("spiffe://example.org/mayflyer");
              }).ok());
  EXPECT_THAT(check([](v1::Entry& e) { e.clear_selectors(); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("selectors: at least one selector")));
  EXPECT_THAT(check([](v1::Entry& e) { e.add_selectors("k8s:ns:x"); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("selectors[3]: selector \"k8s:ns:x\": "
                                 "unknown type \"k8s\" (the agent attests "
                                 "\"unix\" only)")));
  EXPECT_THAT(check([](v1::Entry& e) { e.set_ttl_seconds(5); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ttl_seconds: 5 is outside 10..86400")));
  EXPECT_THAT(check([](v1::Entry& e) { e.add_dns_names("-bad"); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dns_names[0]: \"-bad\" is not a DNS name")));
  EXPECT_THAT(check([](v1::Entry& e) { e.set_hint(std::string(65, 'h')); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("hint: longer than 64")));
  EXPECT_THAT(check([](v1::Entry& e) { e.set_subject("CN={uid}"); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("subject: CN=\"{uid}\": placeholders are")));
  EXPECT_THAT(check([](v1::Entry& e) {
                for (int i = 0; i < kMaxSelectorsPerEntry; ++i) {
                  e.add_selectors(absl::StrCat("unix:gid:", i));
                }
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("selectors: at most 32")));
}

TEST_F(ServerStoreTest, JoinTokenLosesToAConsumerThatWonTheRace) {
  v1::JoinTokenRecord record;
  record.set_expires_at_unix(absl::ToUnixSeconds(clock_.Now()) + 60);
  record.add_aliases("spiffe://example.org/alias/x");
  ASSERT_TRUE(store_->PutJoinToken("ab", record).ok());
  v1::Agent rival;
  rival.set_spiffe_id(kAgentB);
  absl::StatusOr<v1::Agent> rival_result;
  // Between our read of the token and our Txn, the rival consumes it.
  hooked_->before_txn = [&] {
    rival_result = store_->ConsumeJoinToken("ab", rival);
  };
  v1::Agent mine;
  mine.set_spiffe_id(kAgentA);
  EXPECT_THAT(store_->ConsumeJoinToken("ab", mine).status(),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("join token unknown or already used")));
  ASSERT_TRUE(rival_result.ok()) << rival_result.status();
  EXPECT_THAT(rival_result->aliases(),
              ElementsAre("spiffe://example.org/alias/x"));
  EXPECT_THAT(store_->GetAgent(kAgentA).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(kAgentA)));
}

TEST_F(ServerStoreTest, EvictionIsNotUndoneByARenewal) {
  v1::Agent agent;
  agent.set_spiffe_id(kAgentA);
  ASSERT_TRUE(store_->UpsertAttestedAgent(agent).ok());
  // The eviction lands between the renewal's read and its write.
  hooked_->before_txn = [&] { ASSERT_TRUE(store_->EvictAgent(kAgentA).ok()); };
  EXPECT_THAT(
      store_->RecordAgentSvid(kAgentA, "01", 1),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is evicted")));
  EXPECT_TRUE(store_->GetAgent(kAgentA)->evicted());
  EXPECT_THAT(
      store_->UpsertAttestedAgent(agent).status(),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is evicted")));
}

TEST_F(ServerStoreTest, BundleMergesReplicasAndKeepsEachRoot) {
  auto root1 = *identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  auto root2 = *identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  auto jwt1 = *identity::GenerateJwtSigningKey();
  auto jwt2 = *identity::GenerateJwtSigningKey();
  const std::string der1 = identity::CertToDer(*root1.cert);
  const std::string der2 = identity::CertToDer(*root2.cert);
  ASSERT_TRUE(store_->PublishToBundle({der1}, jwt1).ok());
  ASSERT_TRUE(store_->PublishToBundle({der2}, jwt2).ok());
  const int64_t rev = kv_->Get(kBundleKey)->mod_revision;
  ASSERT_TRUE(store_->PublishToBundle({der1}, jwt1).ok());  // no change
  EXPECT_EQ(kv_->Get(kBundleKey)->mod_revision, rev);
  v1::Bundle bundle = *store_->GetBundle();
  EXPECT_THAT(bundle.x509_roots(), ElementsAre(der1, der2));
  auto jwks = *identity::JwtBundle::FromJwks(td_, bundle.jwt_jwks());
  EXPECT_EQ(jwks.size(), 2u);
  EXPECT_NE(jwks.FindKey(jwt1.key_id), nullptr);
  EXPECT_NE(jwks.FindKey(jwt2.key_id), nullptr);
}

TEST_F(ServerStoreTest, RemovingARetiredRootKeepsEveryOtherRootAndKey) {
  auto retired = *identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  auto current = *identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  auto other = *identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  auto jwt = *identity::GenerateJwtSigningKey();
  auto other_jwt = *identity::GenerateJwtSigningKey();
  const std::string retired_der = identity::CertToDer(*retired.cert);
  const std::string current_der = identity::CertToDer(*current.cert);
  const std::string other_der = identity::CertToDer(*other.cert);
  ASSERT_TRUE(store_->PublishToBundle({retired_der, current_der}, jwt).ok());
  const std::string jwks = store_->GetBundle()->jwt_jwks();

  // Another replica publishes its root between this removal's read and its
  // Txn: the Txn loses, reads again, and the other root survives.
  hooked_->before_txn = [&] {
    ASSERT_TRUE(store_->PublishToBundle({other_der}, other_jwt).ok());
  };
  absl::StatusOr<bool> removed = store_->RemoveRootFromBundle(retired_der);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  v1::Bundle bundle = *store_->GetBundle();
  EXPECT_THAT(bundle.x509_roots(), ElementsAre(current_der, other_der));
  auto keys = *identity::JwtBundle::FromJwks(td_, bundle.jwt_jwks());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_NE(keys.FindKey(jwt.key_id), nullptr);
  EXPECT_NE(keys.FindKey(other_jwt.key_id), nullptr);

  // Gone already: nothing is written.
  const int64_t rev = kv_->Get(kBundleKey)->mod_revision;
  removed = store_->RemoveRootFromBundle(retired_der);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(*removed);
  EXPECT_EQ(kv_->Get(kBundleKey)->mod_revision, rev);
  EXPECT_THAT(store_->GetBundle()->x509_roots(),
              ElementsAre(current_der, other_der));
}

}  // namespace
}  // namespace mayfly::server
