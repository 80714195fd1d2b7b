// What an idle relayed connection costs: kRelayScaleConnections
// connections through the socket hooks (HandleContext, as librdkafka's
// broker thread calls them) and the real relay, each with its TLS upstream
// made and probed, then idle. Prints the process's RSS per connection and
// its thread count (the goal: under 64 KiB per idle connection).
//
// The TLS broker (testing/fake_broker.h, scripted to answer the probe) runs
// in a child process forked before this one starts any thread, so its
// threads and buffers are not counted here.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "identity/unique_fd.h"
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

// The figure: 1,000 connections.
constexpr int kRelayScaleConnections = 1000;
// Bounds the wait for every connection to be up; 1,000 handshakes on
// loopback take a few seconds on 2 shared cores.
constexpr absl::Duration kUpWithin = absl::Seconds(45);
// Connections opened at once: more overflow the broker's accept backlog
// (connections reset in the handshake), which is the fixture's limit, not
// the client's.
constexpr int kBatch = 50;
// glibc's default thread stack: RLIMIT_STACK (8 MiB here).
constexpr uint64_t kStackMapping = 8 << 20;
// The goal, reported against; not asserted (see the report line).
constexpr int64_t kGoalBytesPerIdle = 64 << 10;
// What the test does assert: a regression bound, about twice the 88 KiB
// measured when it was written (kafka/CLIENT_DESIGN.md 1.7).
constexpr int64_t kBoundBytesPerIdle = 192 << 10;

// A field of /proc/self/status ("VmRSS" in kB, "Threads").
int64_t ProcStatus(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line.substr(field.size() + 1), absl::ByAnyChar(" \t"),
                       absl::SkipEmpty());
    int64_t value = 0;
    if (!parts.empty() && absl::SimpleAtoi(parts[0], &value)) return value;
  }
  return -1;
}

// Resident kB in mappings the size of a default thread stack (8 MiB,
// RLIMIT_STACK), i.e. the threads' stacks, from /proc/self/smaps.
int64_t StackRssKb() {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool stack = false;
  int64_t total = 0;
  while (std::getline(in, line)) {
    uint64_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &start, &end) == 2 &&
        line.find(' ') != std::string::npos &&
        line.find(':') > line.find(' ')) {
      stack = end - start == kStackMapping;
      continue;
    }
    long long kb = 0;
    if (stack && std::sscanf(line.c_str(), "Rss: %lld kB", &kb) == 1) {
      total += kb;
    }
  }
  return total;
}

// The probe's answer (upstream_open.h): size 10, correlation id "mayf",
// error 0, no api keys.
std::string ProbeAnswer() {
  const char bytes[] = {0, 0, 0, 10, 0x6d, 0x61, 0x79, 0x66, 0, 0, 0, 0, 0, 0};
  return std::string(bytes, sizeof(bytes));
}

// The child: serves the broker until the parent closes `done`. Never
// returns.
[[noreturn]] void RunBroker(const test_pki::TestCa& ca, int port_out,
                            int done) {
  FakeBrokerOptions options;
  options.mode = FakeBrokerMode::kScripted;
  options.max_connections = kRelayScaleConnections + 1;
  const size_t probe_size = ProbeRequest().size();
  // The probe gets its answer; every later request (the test's one
  // ApiVersions v0 per connection) gets the same answer under its own
  // correlation id.
  options.script = [probe_size](const FakeBrokerConnection& c,
                                absl::string_view chunk) {
    const size_t before = c.received.size() - chunk.size();
    if (before < probe_size) {
      const bool whole = c.received.size() >= probe_size;
      return ScriptedReply{whole ? ProbeAnswer() : "", false};
    }
    std::string answer = ProbeAnswer();
    answer.replace(4, 4, std::string(chunk.substr(8, 4)));
    return ScriptedReply{answer, false};
  };
  absl::StatusOr<std::unique_ptr<FakeBroker>> broker = FakeBroker::Start(
      test_pki::MintSvid(ca, test_pki::kBrokerId, absl::Hours(1),
                         identity::RealClock()),
      ca.bundle, options);
  const int port = broker.ok() ? (*broker)->port() : 0;
  (void)!::write(port_out, &port, sizeof(port));
  char byte;
  (void)!::read(done, &byte, 1);  // 0 when the parent closes or dies
  if (broker.ok()) (*broker)->Stop();
  ::_exit(0);
}

TEST(RelayScaleTest, IdleConnectionsCost) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's shadow memory makes the figures meaningless";
#endif
  const identity::Clock& clock = identity::RealClock();
  const test_pki::TestCa ca = test_pki::MakeCa("example.org", clock);
  int port_pipe[2], done_pipe[2];
  ASSERT_EQ(::pipe2(port_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(done_pipe, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(done_pipe[1]);
    RunBroker(ca, port_pipe[1], done_pipe[0]);
  }
  ::close(port_pipe[1]);
  ::close(done_pipe[0]);
  identity::UniqueFd done(done_pipe[1]);
  int port = 0;
  ASSERT_EQ(::read(port_pipe[0], &port, sizeof(port)),
            static_cast<ssize_t>(sizeof(port)));
  ::close(port_pipe[0]);
  ASSERT_GT(port, 0) << "the broker did not start";

  auto source = std::make_shared<identity::workload::FakeX509SvidSource>(clock);
  source->SetX509Svid(
      test_pki::MintSvid(ca, test_pki::kClientId, absl::Hours(1), clock));
  source->SetX509Bundle(ca.bundle);
  auto env = std::make_shared<RelayEnv>();
  env->feed = std::make_shared<SvidFeed>(source, clock);
  env->clock = &clock;
  env->counters = std::make_shared<ClientCounters>();
  env->broker_policy.brokers = {
      *identity::SpiffeIdPattern::FromString(test_pki::kBrokerId)};
  env->max_connections = kRelayScaleConnections + 1;
  sockaddr_in broker{};
  broker.sin_family = AF_INET;
  broker.sin_port = htons(static_cast<uint16_t>(port));
  broker.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string name = absl::StrCat("localhost:", port);
  std::vector<int> fds;
  auto context = std::make_unique<HandleContext>(env);
  // What librdkafka's broker thread does: socket_cb, connect_cb; it then
  // waits for POLLOUT, which the relay gives once its upstream is proven.
  // Returns how many connections are up once `n` were asked for.
  auto open_until = [&](int n) -> int64_t {
    while (static_cast<int>(fds.size()) < n) {
      const int batch_end = std::min<int>(n, fds.size() + kBatch);
      while (static_cast<int>(fds.size()) < batch_end) {
        const int fd = context->OpenSocket();
        if (fd < 0) return -1;
        fds.push_back(fd);
        if (context->Connect(fd, reinterpret_cast<const sockaddr*>(&broker),
                             sizeof(broker), name.c_str()) != 0) {
          return -1;
        }
      }
      const absl::Time deadline = absl::Now() + kUpWithin;
      while (env->counters->active_connections.load() < batch_end &&
             env->counters->connect_failures.load() == 0 &&
             absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(20));  // polls a condition
      }
      if (env->counters->active_connections.load() < batch_end) break;
    }
    return env->counters->active_connections.load();
  };

  // The first connection builds what every later one shares (the SVID's
  // SSL_CTX, OpenSSL's tables): the baseline is taken after it.
  ASSERT_EQ(open_until(1), 1) << env->counters->Snapshot().last_error;
  const int64_t rss_before = ProcStatus("VmRSS");
  const int64_t stacks_before = StackRssKb();
  const int64_t threads_before = ProcStatus("Threads");
  const absl::Time started = absl::Now();
  ASSERT_EQ(open_until(1 + kRelayScaleConnections), 1 + kRelayScaleConnections)
      << env->counters->Snapshot().last_error;
  const absl::Duration took = absl::Now() - started;
  // Each connection carries one request and its answer, as every
  // librdkafka connection does (ApiVersion) before it idles: an idle
  // connection is measured after traffic, not fresh.
  std::string request = ProbeRequest();
  request.replace(8, 4, std::string("\0\0\0\1", 4));
  for (int fd : fds) {
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  }
  for (int fd : fds) {
    std::string answer;
    char buf[64];
    while (answer.size() < ProbeAnswer().size()) {
      pollfd p{fd, POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, absl::ToInt64Milliseconds(kUpWithin)), 1);
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      ASSERT_GT(n, 0);
      answer.append(buf, static_cast<size_t>(n));
    }
    ASSERT_EQ(answer.substr(8, 4), std::string("\0\0\0\0", 4));
    ASSERT_EQ(answer.substr(4, 4), std::string("\0\0\0\1", 4));
  }
  const int64_t rss_after = ProcStatus("VmRSS");
  const int64_t threads_after = ProcStatus("Threads");
  const int64_t stacks_per_idle =
      (StackRssKb() - stacks_before) * 1024 / kRelayScaleConnections;
  const int64_t per_idle =
      (rss_after - rss_before) * 1024 / kRelayScaleConnections;
  std::printf(
      "relay_scale: %d idle connections up in %.1f s; RSS %lld -> %lld kB, "
      "%lld bytes (%.1f KiB) per idle connection (goal < %lld KiB: %s), "
      "of which %.1f KiB thread stack; threads %lld -> %lld (%.2f per "
      "connection)\n",
      kRelayScaleConnections, absl::ToDoubleSeconds(took),
      static_cast<long long>(rss_before), static_cast<long long>(rss_after),
      static_cast<long long>(per_idle), per_idle / 1024.0,
      static_cast<long long>(kGoalBytesPerIdle >> 10),
      per_idle < kGoalBytesPerIdle ? "met" : "NOT met",
      stacks_per_idle / 1024.0, static_cast<long long>(threads_before),
      static_cast<long long>(threads_after),
      static_cast<double>(threads_after - threads_before) /
          kRelayScaleConnections);
  // One thread per idle relay: no helper thread lingers.
  EXPECT_EQ(threads_after - threads_before, kRelayScaleConnections);
  EXPECT_LT(per_idle, kBoundBytesPerIdle);

  for (int fd : fds) context->Close(fd);
  context.reset();  // joins every relay
  EXPECT_EQ(env->counters->active_connections.load(), 0);
  done.reset();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace mayfly::kafka
