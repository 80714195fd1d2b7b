// One relayed connection moves to a new SVID, driven by a fake clock: the
// socket hooks (HandleContext), the real relay, and an in-process TLS
// broker scripted to answer the probe.
//
// Regression test for the poll-index overflow (commit 9add533): the new
// upstream joins the relay's live set in the middle of a poll round
// (RelayLoop::TakePrepared), and the round then read the poll results of
// one more upstream than it had polled, past the end of its pollfd array.
// Every rotation did it; ASan reports it (tests/run_all.sh runs this
// package under --config=asan), a plain build reads garbage.
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/workload/x509_svid_source_fake.h"
#include "kafka/client/client_counters.h"
#include "kafka/client/relay.h"
#include "kafka/client/socket_hooks.h"
#include "kafka/client/svid_feed.h"
#include "kafka/client/testing/fake_broker.h"
#include "kafka/client/testing/test_pki.h"
#include "kafka/client/upstream_open.h"

namespace mayfly::kafka {
namespace {

constexpr absl::Duration kClientTtl = absl::Minutes(10);
// Real time allowed for a handshake and a switch on a loaded machine; the
// waits end as soon as their condition holds.
constexpr absl::Duration kWait = absl::Seconds(20);

// The probe's answer (upstream_open.h): correlation id "mayf", error 0.
std::string ProbeAnswer() {
  const char bytes[] = {0, 0, 0, 10, 0x6d, 0x61, 0x79, 0x66, 0, 0, 0, 0, 0, 0};
  return std::string(bytes, sizeof(bytes));
}

// Polls `done` (an atomic counter's condition) until it holds or `kWait`.
template <typename F>
bool WaitUntil(F done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));  // polls a condition
  }
  return true;
}

TEST(RelayRotationTest, MovesToTheNewSvid) {
  identity::FakeClock clock(test_pki::kStart);
  const test_pki::TestCa ca = test_pki::MakeCa("example.org", clock);
  FakeBrokerOptions options;
  options.mode = FakeBrokerMode::kScripted;
  options.clock = &clock;
  options.script = [](const FakeBrokerConnection&, absl::string_view) {
    return ScriptedReply{ProbeAnswer(), false};
  };
  absl::StatusOr<std::unique_ptr<FakeBroker>> broker = FakeBroker::Start(
      test_pki::MintSvid(ca, test_pki::kBrokerId, absl::Hours(1), clock),
      ca.bundle, options);
  ASSERT_TRUE(broker.ok()) << broker.status();

  auto source = std::make_shared<identity::workload::FakeX509SvidSource>(clock);
  source->SetX509Bundle(ca.bundle);
  source->SetX509Svid(
      test_pki::MintSvid(ca, test_pki::kClientId, kClientTtl, clock));
  auto env = std::make_shared<RelayEnv>();
  env->feed = std::make_shared<SvidFeed>(source, clock);
  env->clock = &clock;
  env->counters = std::make_shared<ClientCounters>();
  env->broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString(test_pki::kBrokerId)};
  RelayBudget budget;
  env->budget = &budget;
  HandleContext context(env);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*broker)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = context.OpenSocket();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(context.Connect(fd, reinterpret_cast<const sockaddr*>(&addr),
                            sizeof(addr), "localhost:9093"),
            0);
  ASSERT_TRUE(WaitUntil([&] {
    return env->counters->active_connections.load() == 1 ||
           env->counters->connect_failures.load() > 0;
  }));
  ASSERT_EQ(env->counters->active_connections.load(), 1)
      << env->counters->Snapshot().last_error;

  // A new SVID late in the old one's life, then the clock past the old
  // one's switch window: the next look must move the connection.
  clock.Advance(kClientTtl - absl::Minutes(1));
  source->SetX509Svid(
      test_pki::MintSvid(ca, test_pki::kClientId, kClientTtl, clock));
  clock.Advance(absl::Minutes(1) - absl::Milliseconds(800));
  source->SetX509Bundle(ca.bundle);  // a notification: the relay looks
  ASSERT_TRUE(WaitUntil([&] {
    return env->counters->rotations.load() == 1 ||
           env->counters->rotation_failures.load() > 0;
  }));
  const ClientStats stats = env->counters->Snapshot();
  EXPECT_EQ(stats.rotations, 1u) << stats.last_error;
  EXPECT_EQ(stats.rotation_failures, 0u);
  EXPECT_EQ(stats.active_connections, 1);
  EXPECT_EQ((*broker)->connections_accepted(), 2);
  EXPECT_EQ(context.Close(fd), 0);
}

}  // namespace
}  // namespace mayfly::kafka
