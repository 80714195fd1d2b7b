// SvidFeed: generations follow the SVID's certificate, not the source's
// snapshots.
#include "kafka/client/svid_feed.h"

#include <memory>

#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

// Another snapshot of `svid`: the same certificates and key.
identity::X509Svid Resend(const identity::X509Svid& svid) {
  return identity::X509Svid{svid.id, identity::ShareChain(svid.chain),
                            identity::ShareKey(svid.key.get()), svid.not_before,
                            svid.not_after};
}

class SvidFeedTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{test_pki::kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  std::shared_ptr<identity::workload::FakeX509SvidSource> source_ =
      std::make_shared<identity::workload::FakeX509SvidSource>(clock_);
};

TEST_F(SvidFeedTest, NoSvidIsUnavailable) {
  SvidFeed feed(source_, clock_);
  EXPECT_EQ(feed.Newest().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(SvidFeedTest, ANewSnapshotOfTheSameSvidIsNoNewGeneration) {
  SvidFeed feed(source_, clock_);
  const identity::X509Svid svid =
      test_pki::MintSvid(ca_, test_pki::kClientId, absl::Minutes(5), clock_);
  source_->SetX509Svid(Resend(svid));
  absl::StatusOr<SvidGeneration> first = feed.Newest();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->life.generation, 1u);
  // The agent resends it with each update (another SVID of the process
  // rotated, or a bundle did): a new snapshot, the same certificate.
  clock_.Advance(absl::Seconds(10));
  source_->SetX509Svid(Resend(svid));
  absl::StatusOr<SvidGeneration> again = feed.Newest();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->life.generation, 1u);
  EXPECT_EQ(again->life.received, first->life.received);
  EXPECT_EQ(again->context, first->context);
}

TEST_F(SvidFeedTest, ANewCertificateIsTheNextGeneration) {
  SvidFeed feed(source_, clock_);
  source_->SetX509Svid(
      test_pki::MintSvid(ca_, test_pki::kClientId, absl::Minutes(5), clock_));
  ASSERT_TRUE(feed.Newest().ok());
  clock_.Advance(absl::Seconds(10));
  source_->SetX509Svid(
      test_pki::MintSvid(ca_, test_pki::kClientId, absl::Minutes(5), clock_));
  absl::StatusOr<SvidGeneration> next = feed.Newest();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->life.generation, 2u);
  EXPECT_EQ(next->life.received, clock_.Now());
}

}  // namespace
}  // namespace mayfly::kafka
