// The agent's loop under a fake clock: its periodic work is timed on the
// monotonic reading, so a wall clock stepped back does not hold it up.
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/agent.h"
#include "identity/agent/config.h"
#include "identity/ca.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/pem.h"
#include "identity/root_rotation.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {
namespace {

using ::testing::HasSubstr;

class AgentLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp: a socket path must stay under 108 bytes.
    char dir[] = "/tmp/agent_loop_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<AgentConfig> config = ParseAgentConfig(
        absl::StrCat("trust_domain: example.org\n"
                     "socket_path: ",
                     dir_, "/run/api.sock\n", "state_dir: ", dir_,
                     "/state\n"
                     "root_rotation_lead: 1s\n"
                     "entries:\n"
                     "  - spiffe_id: spiffe://example.org/root\n"
                     "    selectors: [\"unix:uid:0\"]\n"),
        "test config");
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<Agent>> agent =
        Agent::Create(*config, "", clock_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }
  void TearDown() override {
    agent_.reset();
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  identity::FakeClock clock_{absl::Now()};
  std::string dir_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentLoopTest, WaitsAtMostThePollInterval) {
  EXPECT_LE(agent_->Tick(false), kPollInterval);
  clock_.SetTime(clock_.Now() - absl::Hours(1));
  EXPECT_LE(agent_->Tick(false), kPollInterval);
}

// A root rotation prepared on disk is picked up by the loop's periodic
// authority refresh, which publishes the bundle with the next root. With
// the wall clock stepped back an hour, that must still happen within
// seconds of monotonic time, not an hour later.
// The bundle's earliest root expiry is the CA root's NotAfter, as Unix
// seconds (what an alert compares with time()).
TEST_F(AgentLoopTest, ExportsTheBundleRootsEarliestExpiry) {
  agent_->Tick(false);
  absl::StatusOr<std::string> pem = identity::ReadFile(
      absl::StrCat(dir_, "/state/ca/", identity::kRootCertFile));
  ASSERT_TRUE(pem.ok()) << pem.status();
  absl::StatusOr<identity::CertChain> root = identity::CertsFromPem(*pem);
  ASSERT_TRUE(root.ok() && root->size() == 1);
  EXPECT_THAT(
      agent_->RenderMetrics(),
      HasSubstr(absl::StrCat(
          "\nmayfly_agent_bundle_root_earliest_expiry_seconds ",
          absl::ToUnixSeconds(identity::CertNotAfter(*(*root)[0])), "\n")));
}

TEST_F(AgentLoopTest, WallClockStepBackDoesNotHoldUpThePeriodicRefresh) {
  agent_->Tick(false);
  EXPECT_THAT(agent_->RenderMetrics(),
              HasSubstr("mayfly_agent_bundle_roots 1\n"));
  clock_.SetTime(clock_.Now() - absl::Hours(1));
  ASSERT_TRUE(identity::PrepareRootRotation(absl::StrCat(dir_, "/state/ca"),
                                            absl::Hours(24 * 365), clock_)
                  .ok());
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Seconds(1));
    agent_->Tick(false);
  }
  EXPECT_THAT(agent_->RenderMetrics(),
              HasSubstr("mayfly_agent_bundle_roots 2\n"));
}

}  // namespace
}  // namespace mayfly::agent
