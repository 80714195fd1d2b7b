// The server-mode SVID source with an in-memory signer: Get answers from
// memory only, Update fetches in bounded batches, RenewDue renews what is
// due in one batch, refusals and eviction drop SVIDs, and the disk cache
// serves a restart.
#include "identity/agent/remote/remote_svid_source.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/remote/testing/fake_node.h"
#include "identity/csr.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent::remote {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
namespace pb = ::mayfly::server::v1;

RegistrationEntry Entry(int n) {
  RegistrationEntry e{*identity::SpiffeId::FromString(
      absl::StrCat("spiffe://example.org/w", n))};
  e.selectors = {absl::StrCat("unix:uid:", n)};
  e.entry_id = absl::StrFormat("%032x", n);
  return e;
}

std::vector<RegistrationEntry> Entries(int count) {
  std::vector<RegistrationEntry> out;
  for (int i = 1; i <= count; ++i) out.push_back(Entry(i));
  return out;
}

class RemoteSvidSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TestCa> ca = testing::TestCa::Create(clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<testing::TestCa>(*std::move(ca));
    char dir[] = "/tmp/remote_svid_source_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    auto cache = StateCache::Open(dir_);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = *std::move(cache);
    source_ = NewSource();
  }
  void TearDown() override {
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  std::unique_ptr<RemoteSvidSource> NewSource() {
    return std::make_unique<RemoteSvidSource>(
        [this](const pb::SignX509Request& request) { return Sign(request); },
        cache_.get(), clock_);
  }

  // The signer: answers every CSR for a minute, or fails as told.
  absl::StatusOr<pb::SignX509Response> Sign(
      const pb::SignX509Request& request) {
    batches_.push_back(request.csrs_size());
    if (!fail_.ok()) return fail_;
    pb::SignX509Response response;
    for (const pb::CsrForEntry& item : request.csrs()) {
      pb::SignX509Result* result = response.add_results();
      result->set_entry_id(item.entry_id());
      if (item.entry_id() == refuse_) {
        result->set_error_code(7);  // PERMISSION_DENIED
        result->set_error("not yours");
        continue;
      }
      absl::StatusOr<identity::ParsedCsr> csr =
          identity::ParseCsrDer(item.csr());
      EXPECT_TRUE(csr.ok() && csr->uris.size() == 1);
      // A misbehaving server: signs another identity than asked.
      const std::string uri = item.entry_id() == wrong_id_
                                  ? "spiffe://example.org/admin"
                                  : csr->uris[0];
      absl::StatusOr<std::string> leaf = testing::SignCsrForTest(
          *ca_, item.csr(), uri, absl::Minutes(1), clock_);
      EXPECT_TRUE(leaf.ok()) << leaf.status();
      result->add_chain(*leaf);
      result->set_not_after_unix(
          absl::ToUnixSeconds(clock_.Now() + absl::Minutes(1)));
    }
    return response;
  }

  absl::StatusOr<SvidMaterial> Get(int n) {
    return source_->Get(Entry(n), absl::Minutes(1), signing_);
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<testing::TestCa> ca_;
  std::string dir_;
  std::unique_ptr<StateCache> cache_;
  std::unique_ptr<RemoteSvidSource> source_;
  SigningState signing_{
      nullptr, "",
      identity::X509Bundle(*identity::TrustDomain::FromString("example.org"))};
  std::vector<int> batches_;
  absl::Status fail_;
  std::string refuse_;
  std::string wrong_id_;
};

TEST_F(RemoteSvidSourceTest, GetBeforeFetchIsUnavailable) {
  EXPECT_THAT(Get(1), StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("no SVID for spiffe://example.org/w1 "
                                         "yet")));
  EXPECT_THAT(batches_, IsEmpty());  // Get never calls out
}

TEST_F(RemoteSvidSourceTest, UpdateFetchesInBoundedBatches) {
  auto changed = source_->Update(Entries(300));
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->size(), 300u);
  EXPECT_THAT(batches_, ElementsAre(kMaxCsrsPerCall, 300 - kMaxCsrsPerCall));
  absl::StatusOr<SvidMaterial> svid = Get(300);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->not_after, clock_.Now() + absl::Minutes(1));
  // Rotation is pushed: the registry only comes back at expiry.
  EXPECT_EQ(svid->renew_at, svid->not_after);
  // A second Update with the same entries fetches nothing.
  ASSERT_TRUE(source_->Update(Entries(300)).ok());
  EXPECT_EQ(batches_.size(), 2u);
}

TEST_F(RemoteSvidSourceTest, RenewDueRenewsInOneBatch) {
  ASSERT_TRUE(source_->Update(Entries(3)).ok());
  auto none = source_->RenewDue();
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_LE(source_->NextRenewal(), clock_.Now() + absl::Seconds(33));
  EXPECT_GE(source_->NextRenewal(), clock_.Now() + absl::Seconds(27));
  // Renewals fall from 27 s to 33 s (half-life +-10%); kRenewAhead before
  // the last, all three go in one call.
  clock_.Advance(absl::Seconds(33) - kRenewAhead);
  auto renewed = source_->RenewDue();
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->size(), 3u);
  EXPECT_THAT(batches_, ElementsAre(3, 3));
}

TEST_F(RemoteSvidSourceTest, DeletedEntryDropped) {
  ASSERT_TRUE(source_->Update(Entries(2)).ok());
  auto changed = source_->Update({Entry(1)});
  ASSERT_TRUE(changed.ok());
  EXPECT_THAT(*changed, ElementsAre(Entry(2).Key()));
  EXPECT_THAT(Get(2),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no SVID for spiffe://example.org/w2")));
  EXPECT_EQ(cache_->LoadSvids().size(), 1u);
}

TEST_F(RemoteSvidSourceTest, RefusedEntryHasNoSvid) {
  refuse_ = Entry(2).entry_id;
  auto changed = source_->Update(Entries(2));
  ASSERT_TRUE(changed.ok());
  EXPECT_THAT(*changed, ElementsAre(Entry(1).Key()));
  EXPECT_TRUE(Get(1).ok());
  EXPECT_THAT(Get(2), StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("being fetched")));
  EXPECT_EQ(source_->GetStats().refused, 1);
  // Not asked for again on every turn of the loop, only after a while.
  EXPECT_EQ(source_->NextRenewal(), clock_.Now() + kRetryRefused);
  ASSERT_TRUE(source_->RenewDue().ok());
  EXPECT_THAT(batches_, ElementsAre(2));
  clock_.Advance(kRetryRefused);
  ASSERT_TRUE(source_->RenewDue().ok());
  EXPECT_THAT(batches_, ElementsAre(2, 1));
}

TEST_F(RemoteSvidSourceTest, CertificateForAnotherIdentityIsNotServed) {
  wrong_id_ = Entry(2).entry_id;
  auto changed = source_->Update(Entries(2));
  ASSERT_TRUE(changed.ok());
  EXPECT_THAT(*changed, ElementsAre(Entry(1).Key()));
  EXPECT_THAT(Get(2),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no SVID for spiffe://example.org/w2")));
}

TEST_F(RemoteSvidSourceTest, ExpiredSvidIsUnavailableDuringAnOutage) {
  ASSERT_TRUE(source_->Update(Entries(1)).ok());
  fail_ = absl::UnavailableError("connection refused");
  source_->SetUnreachableSince(clock_.Now());
  clock_.Advance(absl::Minutes(1));
  EXPECT_THAT(source_->RenewDue(), StatusIs(absl::StatusCode::kUnavailable,
                                            HasSubstr("connection refused")));
  EXPECT_THAT(Get(1), StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("expired at 2027-01-15T08:01:00+00:00 "
                                         "and mayfly-server has not renewed "
                                         "it; mayfly-server unreachable since "
                                         "2027-01-15T08:00:00+00:00")));
}

TEST_F(RemoteSvidSourceTest, EvictionForgetsEverything) {
  ASSERT_TRUE(source_->Update(Entries(2)).ok());
  source_->SetEvicted("agent evicted");
  EXPECT_THAT(Get(1), StatusIs(absl::StatusCode::kPermissionDenied,
                               HasSubstr("agent evicted")));
  EXPECT_THAT(cache_->LoadSvids(), IsEmpty());
  EXPECT_EQ(source_->NextRenewal(), absl::InfiniteFuture());
}

TEST_F(RemoteSvidSourceTest, RestartServesValidCachedSvids) {
  ASSERT_TRUE(source_->Update(Entries(2)).ok());
  const std::string leaf = Get(1)->leaf_der;
  auto restarted = NewSource();
  restarted->LoadFromDisk(Entries(2));
  absl::StatusOr<SvidMaterial> svid =
      restarted->Get(Entry(1), absl::Minutes(1), signing_);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->leaf_der, leaf);
  // Issued at an unknown time: renewed as soon as a server answers.
  EXPECT_EQ(restarted->NextRenewal(), clock_.Now());
  // An entry that changed does not pick up the old entry's SVID.
  RegistrationEntry changed = Entry(2);
  changed.hint = "other";
  auto again = NewSource();
  again->LoadFromDisk({changed});
  EXPECT_FALSE(again->Get(changed, absl::Minutes(1), signing_).ok());
  // Past expiry, nothing is loaded.
  clock_.Advance(absl::Minutes(2));
  auto late = NewSource();
  late->LoadFromDisk(Entries(2));
  EXPECT_FALSE(late->Get(Entry(1), absl::Minutes(1), signing_).ok());
}

TEST_F(RemoteSvidSourceTest, CacheFilesArePrivate) {
  ASSERT_TRUE(source_->Update(Entries(1)).ok());
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/server").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir_ + "/server/svids").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(absl::StrCat(dir_, "/server/svids/", Entry(1).entry_id, ".pb")
                     .c_str(),
                 &st),
            0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RemoteSvidSourceTest, NonHexEntryIdIsNeverAFileName) {
  cachepb::CachedSvid svid;
  svid.set_entry_id("../../etc/passwd");
  EXPECT_THAT(
      cache_->SaveSvid(svid),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not hex")));
}

}  // namespace
}  // namespace mayfly::agent::remote
