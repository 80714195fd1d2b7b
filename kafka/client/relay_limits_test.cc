// The limits on a process's relays (relay_budget.h, ClientOptions): a
// connect_cb beyond them, or one whose thread cannot start, is refused
// with an errno librdkafka retries, never an exception. Through
// HandleContext with an injected ThreadStarter; no broker, no librdkafka.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/client_counters.h"
#include "kafka/client/relay.h"
#include "kafka/client/relay_budget.h"
#include "kafka/client/relay_thread.h"
#include "kafka/client/socket_hooks.h"
#include "kafka/client/svid_feed.h"
#include "kafka/client/testing/test_pki.h"

namespace mayfly::kafka {
namespace {

using ::testing::HasSubstr;

class RelayLimitsTest : public ::testing::Test {
 protected:
  RelayLimitsTest() {
    source_->SetX509Svid(
        test_pki::MintSvid(ca_, test_pki::kClientId, absl::Minutes(5), clock_));
    env_->feed = std::make_shared<SvidFeed>(source_, clock_);
    env_->clock = &clock_;
    env_->counters = std::make_shared<ClientCounters>();
    env_->budget = &budget_;
    // The relays' bodies are kept here, never run: each keeps its slot
    // until the test drops it.
    env_->start_thread =
        [this](absl::AnyInvocable<void()> body) -> absl::StatusOr<RelayThread> {
      held_bodies_.push_back(std::move(body));
      return RelayThread();
    };
    broker_.sin_family = AF_INET;
    broker_.sin_port = htons(9093);
    broker_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }

  // socket_cb then connect_cb, as librdkafka calls them; connect_cb's
  // result. The fd is closed by the context's destructor if not here.
  int OpenAndConnect(HandleContext& context) {
    const int fd = context.OpenSocket();
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return context.Connect(fd, reinterpret_cast<const sockaddr*>(&broker_),
                           sizeof(broker_), "broker-1:9093");
  }

  void CloseAll(HandleContext& context) {
    for (int fd : fds_) EXPECT_EQ(context.Close(fd), 0);
    fds_.clear();
  }

  identity::FakeClock clock_{test_pki::kStart};
  test_pki::TestCa ca_ = test_pki::MakeCa("example.org", clock_);
  std::shared_ptr<identity::workload::FakeX509SvidSource> source_ =
      std::make_shared<identity::workload::FakeX509SvidSource>(clock_);
  RelayBudget budget_;
  std::shared_ptr<RelayEnv> env_ = std::make_shared<RelayEnv>();
  std::vector<absl::AnyInvocable<void()>> held_bodies_;
  std::vector<int> fds_;
  sockaddr_in broker_{};
};

TEST_F(RelayLimitsTest, AThreadThatCannotStartRefusesTheConnect) {
  env_->start_thread =
      [](absl::AnyInvocable<void()>) -> absl::StatusOr<RelayThread> {
    return absl::ResourceExhaustedError(
        "cannot start a relay thread: Resource temporarily unavailable");
  };
  HandleContext context(env_);
  EXPECT_EQ(OpenAndConnect(context), EAGAIN);
  const ClientStats stats = env_->counters->Snapshot();
  EXPECT_EQ(stats.connect_failures, 1u);
  EXPECT_EQ(stats.connections_opened, 0u);
  EXPECT_THAT(stats.last_error,
              HasSubstr("broker broker-1:9093: cannot start a relay thread"));
  EXPECT_EQ(budget_.connections(), 0);  // the slot went with the body
  CloseAll(context);
}

TEST_F(RelayLimitsTest, ConnectionsBeyondTheCapAreRefused) {
  env_->max_connections = 2;
  HandleContext context(env_);
  EXPECT_EQ(OpenAndConnect(context), 0);
  EXPECT_EQ(OpenAndConnect(context), 0);
  EXPECT_EQ(budget_.connections(), 2);
  EXPECT_EQ(OpenAndConnect(context), EMFILE);
  EXPECT_EQ(budget_.connections(), 2);
  ClientStats stats = env_->counters->Snapshot();
  EXPECT_EQ(stats.connect_failures, 1u);
  EXPECT_EQ(stats.connections_opened, 2u);
  EXPECT_THAT(stats.last_error,
              HasSubstr("already relays 2 connections "
                        "(ClientOptions.max_connections is 2)"));

  // Relays whose threads have ended give their places back.
  held_bodies_.clear();
  EXPECT_EQ(budget_.connections(), 0);
  EXPECT_EQ(OpenAndConnect(context), 0);
  EXPECT_EQ(budget_.connections(), 1);
  CloseAll(context);
}

TEST_F(RelayLimitsTest, ConnectsAreRefusedWhileTheRelaysHoldTheByteCap) {
  env_->max_buffered_bytes = 1 << 20;
  HandleContext context(env_);
  budget_.AddBuffered(1 << 20);  // what other relays hold
  EXPECT_EQ(OpenAndConnect(context), ENOBUFS);
  EXPECT_EQ(budget_.connections(), 0);
  EXPECT_THAT(env_->counters->Snapshot().last_error,
              HasSubstr("hold 1048576 buffered bytes "
                        "(ClientOptions.max_buffered_bytes is 1048576)"));
  budget_.AddBuffered(-1);
  EXPECT_EQ(OpenAndConnect(context), 0);
  budget_.AddBuffered(-((1 << 20) - 1));
  CloseAll(context);
}

TEST(RelayThreadTest, RunsTheBodyAndJoins) {
  absl::Notification ran;
  absl::StatusOr<RelayThread> thread =
      RelayThread::Start([&ran] { ran.Notify(); });
  ASSERT_TRUE(thread.ok()) << thread.status();
  EXPECT_TRUE(thread->joinable());
  thread->Join();
  EXPECT_TRUE(ran.HasBeenNotified());
  EXPECT_FALSE(thread->joinable());
}

}  // namespace
}  // namespace mayfly::kafka
