// The in-memory X509SvidSource: rotation notifies watchers, expiry follows
// the FakeClock, and the Watch contract of x509_svid_source.h holds
// (re-entrant callbacks, cancelling from inside a callback, a subscription
// outliving its source).
#include "identity/workload/x509_svid_source_fake.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::identity::workload {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

// A fixed start keeps certificate times the same on every run.
const absl::Time kStart = absl::FromUnixSeconds(1800000000);
constexpr absl::Duration kTtl = absl::Minutes(5);
// How long a test watches for something that must not happen: far longer
// than the microseconds the bug it guards against would take.
constexpr absl::Duration kNegativeWindow = absl::Milliseconds(100);

class FakeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    td_ = *TrustDomain::FromString("example.org");
    absl::StatusOr<Signer> root =
        MintRootCa(CaRequest{td_, absl::Hours(24)}, clock_);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *std::move(root);
    bundle_.AddRoot(*root_.cert);
  }

  X509Svid Mint(absl::string_view path) {
    X509SvidRequest request{
        *SpiffeId::FromString(absl::StrCat("spiffe://example.org", path)),
        kTtl};
    absl::StatusOr<X509Svid> svid = MintX509Svid(request, root_, clock_);
    EXPECT_TRUE(svid.ok()) << svid.status();
    return *std::move(svid);
  }

  FakeClock clock_{kStart};
  TrustDomain td_ = *TrustDomain::FromString("unset.example");
  Signer root_;
  X509Bundle bundle_{*TrustDomain::FromString("example.org")};
  FakeX509SvidSource source_{clock_};
};

TEST_F(FakeSourceTest, EmptyUntilSet) {
  EXPECT_THAT(source_.GetX509Svid(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no X.509-SVID received yet")));
  EXPECT_THAT(source_.GetX509BundleForTrustDomain(td_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("example.org")));
}

TEST_F(FakeSourceTest, RotationNotifiesWatchersAndServesTheNewSvid) {
  int calls = 0;
  std::string seen;
  auto subscription = source_.Watch([&] {
    ++calls;
    // Re-entrant read from inside the callback: no lock is held.
    auto svid = source_.GetX509Svid();
    seen = svid.ok() ? (*svid)->id.ToString() : svid.status().ToString();
  });
  source_.SetX509Bundle(bundle_);
  EXPECT_EQ(calls, 1);
  source_.SetX509Svid(Mint("/first"));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen, "spiffe://example.org/first");

  auto held = *source_.GetX509Svid();
  clock_.Advance(kTtl / 2);
  source_.SetX509Svid(Mint("/second"));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(seen, "spiffe://example.org/second");
  // A snapshot taken before the rotation is unchanged by it.
  EXPECT_EQ(held->id.ToString(), "spiffe://example.org/first");
  ASSERT_EQ((*source_.GetX509BundleForTrustDomain(td_)).roots().size(), 1u);
}

TEST_F(FakeSourceTest, ExpiryFollowsTheFakeClock) {
  source_.SetX509Svid(Mint("/a"));
  const absl::Time not_after = (*source_.GetX509Svid())->not_after;
  EXPECT_EQ(not_after, kStart + kTtl);
  clock_.Advance(kTtl);  // exactly NotAfter: still valid (RFC 5280)
  EXPECT_TRUE(source_.GetX509Svid().ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(source_.GetX509Svid(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("spiffe://example.org/a expired at")));
  // A wall-clock step back (NTP) makes it valid again, as the clock says.
  clock_.SetTime(kStart);
  EXPECT_TRUE(source_.GetX509Svid().ok());
  clock_.SetTime(kStart + 2 * kTtl);
  source_.SetX509Svid(Mint("/b"));
  EXPECT_EQ((*source_.GetX509Svid())->id.ToString(), "spiffe://example.org/b");
}

TEST_F(FakeSourceTest, CancelledSubscriptionIsNotCalledAgain) {
  int calls = 0;
  auto subscription = source_.Watch([&] { ++calls; });
  EXPECT_EQ(source_.watchers(), 1);
  source_.SetX509Svid(Mint("/a"));
  subscription.Cancel();
  EXPECT_EQ(source_.watchers(), 0);
  source_.SetX509Svid(Mint("/b"));
  EXPECT_EQ(calls, 1);
  {
    auto scoped = source_.Watch([&] { ++calls; });
  }  // destruction unsubscribes
  source_.SetX509Svid(Mint("/c"));
  EXPECT_EQ(calls, 1);
}

TEST_F(FakeSourceTest, CallbackMayCancelItselfAndOthers) {
  X509SvidSource::Subscription self, other;
  int self_calls = 0, other_calls = 0;
  self = source_.Watch([&] {
    ++self_calls;
    self.Cancel();   // would wait for itself forever if not handled
    other.Cancel();  // not yet called in this round: must not be called
  });
  other = source_.Watch([&] { ++other_calls; });
  source_.SetX509Svid(Mint("/a"));
  source_.SetX509Svid(Mint("/b"));
  EXPECT_EQ(self_calls, 1);
  EXPECT_EQ(other_calls, 0);
  EXPECT_EQ(source_.watchers(), 0);
}

// Cancel from another thread returns only once a running call has finished,
// so the caller may free what the callback uses.
TEST_F(FakeSourceTest, CancelWaitsForARunningCallback) {
  std::atomic<bool> cancel_returned{false};
  std::atomic<bool> returned_while_running{false};
  absl::Notification entered;
  X509SvidSource::Subscription subscription = source_.Watch([&] {
    entered.Notify();
    // Cancel has unregistered us (it erases before it waits) ...
    while (source_.watchers() != 0) absl::SleepFor(absl::Milliseconds(1));
    // ... and must now be waiting for this call. A Cancel that did not wait
    // returns within microseconds; this window only has to outlast that.
    absl::SleepFor(kNegativeWindow);
    returned_while_running = cancel_returned.load();
  });
  std::thread rotate([&] { source_.SetX509Svid(Mint("/a")); });
  entered.WaitForNotification();
  subscription.Cancel();
  cancel_returned = true;
  rotate.join();
  EXPECT_FALSE(returned_while_running.load());
}

TEST_F(FakeSourceTest, CallbackMayChangeTheSource) {
  int calls = 0;
  auto subscription = source_.Watch([&] {
    if (++calls == 1) source_.SetX509Bundle(bundle_);  // nested change
  });
  source_.SetX509Svid(Mint("/a"));
  EXPECT_EQ(calls, 2);
}

TEST_F(FakeSourceTest, SubscriptionMayOutliveTheSource) {
  X509SvidSource::Subscription subscription;
  {
    FakeX509SvidSource short_lived(clock_);
    subscription = short_lived.Watch([] {});
  }
  subscription.Cancel();  // no source left: nothing to do, nothing freed
  SUCCEED();
}

TEST_F(FakeSourceTest, BundlesByTrustDomain) {
  source_.SetX509Bundle(bundle_);
  const TrustDomain other = *TrustDomain::FromString("other.example");
  EXPECT_THAT(source_.GetX509BundleForTrustDomain(other),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("no X.509 bundle for trust domain "
                                 "other.example")));
  source_.RemoveX509Bundle(td_);
  EXPECT_THAT(source_.GetX509BundleForTrustDomain(td_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("example.org")));
}

}  // namespace
}  // namespace mayfly::identity::workload
