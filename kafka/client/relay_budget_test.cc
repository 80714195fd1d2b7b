// What a relay's buffers hold counts against the process's budget
// (relay_budget.h, ClientOptions.max_buffered_bytes): a broker answer that
// librdkafka does not read yet is counted while the relay holds it, and
// given back once it is read. The count is what refuses new connects
// (ENOBUFS) and stops the relays reading. Through the socket hooks and the
// real relay to an in-process TLS broker scripted to answer.
#include "kafka/client/relay_budget.h"

#include <netinet/in.h>
#include <poll.h>
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

// More than the socketpair and the client's receive buffer hold, so the
// relay must keep part of it (kernel buffers: a few hundred KiB).
constexpr size_t kAnswerBody = 2 << 20;
// Real time allowed on a loaded machine; the waits end at their condition.
constexpr absl::Duration kWait = absl::Seconds(20);

std::string Int32(uint32_t v) {
  const char b[] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                    static_cast<char>(v >> 8), static_cast<char>(v)};
  return std::string(b, 4);
}

// Polls `done` until it holds or kWait passes.
template <typename F>
bool WaitUntil(F done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));  // polls a condition
  }
  return true;
}

TEST(RelayBudgetTest, HeldBytesAreCountedUntilTheClientReadsThem) {
  identity::FakeClock clock(test_pki::kStart);
  const test_pki::TestCa ca = test_pki::MakeCa("example.org", clock);
  FakeBrokerOptions options;
  options.mode = FakeBrokerMode::kScripted;
  options.clock = &clock;
  const size_t probe_size = ProbeRequest().size();
  // The probe's answer, then for the test's request (correlation id 1) an
  // answer of kAnswerBody bytes.
  options.script = [probe_size](const FakeBrokerConnection& c,
                                absl::string_view chunk) {
    if (c.received.size() - chunk.size() < probe_size) {
      return ScriptedReply{
          Int32(10) + Int32(kProbeCorrelationId) + std::string(6, '\0'), false};
    }
    return ScriptedReply{
        Int32(4 + kAnswerBody) + Int32(1) + std::string(kAnswerBody, '\0'),
        false};
  };
  absl::StatusOr<std::unique_ptr<FakeBroker>> broker = FakeBroker::Start(
      test_pki::MintSvid(ca, test_pki::kBrokerId, absl::Hours(1), clock),
      ca.bundle, options);
  ASSERT_TRUE(broker.ok()) << broker.status();

  auto source = std::make_shared<identity::workload::FakeX509SvidSource>(clock);
  source->SetX509Bundle(ca.bundle);
  source->SetX509Svid(
      test_pki::MintSvid(ca, test_pki::kClientId, absl::Hours(1), clock));
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

  EXPECT_EQ(budget.buffered(), 0);

  std::string request = ProbeRequest();
  request.replace(8, 4, Int32(1));
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Nobody reads the answer yet: what the kernel does not hold, the relay
  // does, and counts.
  EXPECT_TRUE(WaitUntil([&] { return budget.buffered() > 0; }));
  EXPECT_LE(budget.buffered(), static_cast<int64_t>(8 + kAnswerBody));

  size_t got = 0;
  std::string buf(64 << 10, '\0');
  while (got < 8 + kAnswerBody) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, absl::ToInt64Milliseconds(kWait)), 1);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
  }
  EXPECT_EQ(got, 8 + kAnswerBody);
  EXPECT_TRUE(WaitUntil([&] { return budget.buffered() == 0; }))
      << budget.buffered();
  EXPECT_EQ(context.Close(fd), 0);
}

}  // namespace
}  // namespace mayfly::kafka
