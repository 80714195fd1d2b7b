// The Workload API X509Source against a scripted agent (fake_agent.h), a
// real gRPC server on a Unix socket: which failures it retries, which one
// ends it, that the last good SVID is served until it expires by the
// injected clock, and that Watch subscribers hear of each update.
#include "identity/workload/x509_source.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/fake_agent.h"
#include "identity/x509_svid.h"

namespace mayfly::identity::workload {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fixed start keeps certificate times the same on every run.
const absl::Time kStart = absl::FromUnixSeconds(1800000000);
constexpr absl::Duration kTtl = absl::Minutes(5);
// Generous for a loaded 2-core machine; a passing run takes milliseconds.
constexpr absl::Duration kPatience = absl::Seconds(20);
constexpr absl::Duration kPollEvery = absl::Milliseconds(5);

// Polls `done` until it holds or kPatience has passed.
bool WaitUntil(const std::function<bool()>& done) {
  for (int64_t i = 0; i < kPatience / kPollEvery; ++i) {
    if (done()) return true;
    absl::SleepFor(kPollEvery);
  }
  return done();
}

class X509SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeAgent>> agent = FakeAgent::Start();
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    absl::StatusOr<Signer> root = MintRootCa(
        CaRequest{*TrustDomain::FromString("example.org"), absl::Hours(24)},
        clock_);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *std::move(root);
    bundle_.AddRoot(*root_.cert);
  }

  // A valid response for spiffe://example.org<path>, minted now by clock_.
  X509SVIDResponse Good(absl::string_view path) {
    X509SvidRequest request{
        *SpiffeId::FromString(absl::StrCat("spiffe://example.org", path)),
        kTtl};
    absl::StatusOr<X509Svid> svid = MintX509Svid(request, root_, clock_);
    EXPECT_TRUE(svid.ok()) << svid.status();
    absl::StatusOr<X509SVIDResponse> response = X509ResponseFor(*svid, bundle_);
    EXPECT_TRUE(response.ok()) << response.status();
    return *response;
  }

  // A message that arrives whole but whose chain does not parse.
  static X509SVIDResponse Garbage() {
    X509SVIDResponse response;
    X509SVID* svid = response.add_svids();
    svid->set_spiffe_id("spiffe://example.org/garbage");
    svid->set_x509_svid("\x30\x03 not a certificate");
    return response;
  }

  // One response carrying an SVID for each path, in that order.
  X509SVIDResponse Several(const std::vector<std::string>& paths) {
    X509SVIDResponse response;
    for (const std::string& path : paths) {
      *response.add_svids() = Good(path).svids(0);
    }
    return response;
  }

  std::unique_ptr<X509Source> StartSource(std::string spiffe_id = "") {
    X509Source::Options options;
    options.spiffe_id = std::move(spiffe_id);
    options.clock = &clock_;
    options.min_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(50);
    options.on_error = [this](const absl::Status& status) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(status);
    };
    absl::StatusOr<std::unique_ptr<X509Source>> source =
        X509Source::Start(agent_->endpoint(), options);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  std::vector<absl::StatusCode> ErrorCodes() {
    absl::MutexLock lock(&mu_);
    std::vector<absl::StatusCode> codes;
    for (const absl::Status& s : errors_) codes.push_back(s.code());
    return codes;
  }

  static std::string IdOf(const X509Source& source) {
    auto svid = source.GetX509Svid();
    return svid.ok() ? (*svid)->id.ToString() : svid.status().ToString();
  }

  FakeClock clock_{kStart};
  std::unique_ptr<FakeAgent> agent_;
  Signer root_;
  X509Bundle bundle_{*TrustDomain::FromString("example.org")};
  absl::Mutex mu_;
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

// Issue 8 item 11: one unparseable message used to stop the source for good.
TEST_F(X509SourceTest, RecoversFromAnUnparseableResponse) {
  agent_->Send(Garbage());
  agent_->NextStream();
  agent_->Send(Good("/web"));
  auto source = StartSource();
  ASSERT_NE(source, nullptr);
  auto first = source->WaitForFirst(kPatience);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->svids[0].id.ToString(), "spiffe://example.org/web");
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/web");
  EXPECT_FALSE(source->stopped());
  EXPECT_EQ(agent_->streams(), 2);
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_THAT(errors_[0], StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("unusable X509SVIDResponse "
                                             "from the Workload API: "
                                             "svids[0].x509_svid")));
}

TEST_F(X509SourceTest, KeepsServingTheLastGoodSvidWhileItRetries) {
  std::vector<std::string> served_during_error;
  X509Source* raw = nullptr;
  X509Source::Options options;
  options.clock = &clock_;
  options.min_backoff = absl::Milliseconds(10);
  // Runs between the failure and the retry, so it sees the gap.
  options.on_error = [&](const absl::Status&) {
    served_during_error.push_back(IdOf(*raw));
  };
  auto source = X509Source::Start(agent_->endpoint(), options);
  ASSERT_TRUE(source.ok()) << source.status();
  raw = source->get();
  // Scripted only now: on_error must not run before `raw` is set.
  agent_->Send(Good("/old"));
  agent_->Send(Garbage());
  agent_->NextStream();
  agent_->Send(Good("/new"));
  ASSERT_TRUE(WaitUntil([&] { return raw->updates() == 2; }));
  EXPECT_EQ(IdOf(*raw), "spiffe://example.org/new");
  (*source)->Close();
  EXPECT_THAT(served_during_error, ElementsAre("spiffe://example.org/old"));
}

// go-spiffe retries PERMISSION_DENIED too: the workload may be registered
// after it started.
TEST_F(X509SourceTest, RetriesRefusalsThatMayChange) {
  agent_->End(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity issued"));
  agent_->NextStream();
  agent_->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"));
  agent_->NextStream();
  agent_->End(grpc::Status(grpc::StatusCode::CANCELLED, "agent cancelled"));
  agent_->NextStream();
  agent_->Send(Good("/late"));
  auto source = StartSource();
  ASSERT_NE(source, nullptr);
  auto first = source->WaitForFirst(kPatience);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/late");
  EXPECT_THAT(ErrorCodes(), ElementsAre(absl::StatusCode::kPermissionDenied,
                                        absl::StatusCode::kUnavailable,
                                        absl::StatusCode::kCancelled));
}

TEST_F(X509SourceTest, TheAgentsInvalidArgumentEndsTheSource) {
  agent_->End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "security header missing from request"));
  agent_->NextStream();
  agent_->Send(Good("/never"));
  auto source = StartSource();
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->WaitForFirst(kPatience),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("security header missing")));
  EXPECT_TRUE(source->stopped());
  // Run() has returned: no second stream was or will be opened.
  EXPECT_EQ(agent_->streams(), 1);
  EXPECT_THAT(source->GetX509Svid(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("security header missing")));
}

TEST_F(X509SourceTest, ExpiredSvidIsReportedNotServedAndWatchersHearUpdates) {
  auto source = StartSource();
  ASSERT_NE(source, nullptr);
  absl::Mutex calls_mu;
  int calls = 0;
  auto subscription = source->Watch([&] {
    absl::MutexLock lock(&calls_mu);
    ++calls;
  });
  auto watched = [&](int n) {
    return WaitUntil([&] {
      absl::MutexLock lock(&calls_mu);
      return calls == n;
    });
  };
  agent_->Send(Good("/a"));
  ASSERT_TRUE(watched(1));
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/a");
  const TrustDomain td = *TrustDomain::FromString("example.org");
  EXPECT_EQ(source->GetX509BundleForTrustDomain(td)->roots().size(), 1u);

  clock_.Advance(kTtl + absl::Seconds(1));
  EXPECT_THAT(source->GetX509Svid(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("spiffe://example.org/a expired at")));
  EXPECT_EQ(source->Current(), nullptr);

  agent_->Send(Good("/b"));  // minted at the advanced time
  ASSERT_TRUE(watched(2));
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/b");

  subscription.Cancel();
  agent_->Send(Good("/c"));
  ASSERT_TRUE(WaitUntil([&] { return source->updates() == 3; }));
  source->Close();
  absl::MutexLock lock(&calls_mu);
  EXPECT_EQ(calls, 2);
}

TEST_F(X509SourceTest, ServesTheFirstSvidByDefault) {
  agent_->Send(Several({"/a", "/b"}));
  auto source = StartSource();
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->WaitForFirst(kPatience).ok());
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/a");
}

// go-spiffe's default-SVID picker: one uid, several SVIDs, the client names
// the one it wants.
TEST_F(X509SourceTest, ServesTheSvidOptionsSpiffeIdNames) {
  agent_->Send(Several({"/a", "/b"}));
  auto source = StartSource("spiffe://example.org/b");
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->WaitForFirst(kPatience).ok());
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/b");

  // An update without it: not served, not even the old one.
  agent_->Send(Several({"/a", "/c"}));
  ASSERT_TRUE(WaitUntil([&] { return source->updates() == 2; }));
  EXPECT_THAT(source->GetX509Svid(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no X.509-SVID for spiffe://example.org/b; "
                                 "it offers spiffe://example.org/a, "
                                 "spiffe://example.org/c")));
  EXPECT_EQ(source->Current()->svids.size(), 2u);

  agent_->Send(Several({"/b"}));
  ASSERT_TRUE(WaitUntil([&] { return source->updates() == 3; }));
  EXPECT_EQ(IdOf(*source), "spiffe://example.org/b");
}

}  // namespace
}  // namespace mayfly::identity::workload
