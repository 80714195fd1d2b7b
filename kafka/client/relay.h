// Relay: the thread behind one librdkafka broker connection.
//
// librdkafka holds one end of an AF_UNIX socketpair and believes it is a TCP
// connection to the broker (kafka_identity.cc's socket hooks). The relay
// owns the other end and, on its own thread:
//   1. opens the first upstream (upstream_open.h: TCP, TLS with the newest
//      SVID, probe) while librdkafka waits in CONNECT behind a full send
//      buffer (kafka/CLIENT_DESIGN.md 1.2); on success it lets librdkafka
//      go, on failure it closes its end with the filler unread, which
//      librdkafka reports as a refused connect and retries with backoff;
//   2. carries the Kafka bytes both ways through RelayConn, the state
//      machine that may switch upstream between requests;
//   3. asks its RotationTracker when to move to a newer SVID, opens the next
//      upstream on a helper thread while traffic keeps flowing, and hands it
//      to RelayConn, which drains and swaps (CLIENT_DESIGN.md 1.4).
// A failure that is not a planned move (the broker closes a live upstream,
// a malformed frame, the SVID expires with no successor) closes the
// socketpair: librdkafka sees an ordinary disconnect and reconnects.
//
// Thread-safe: Stop() and done() from any thread; the destructor stops and
// joins.
#ifndef MAYFLY_KAFKA_CLIENT_RELAY_H_
#define MAYFLY_KAFKA_CLIENT_RELAY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "identity/unique_fd.h"
#include "kafka/client/client_counters.h"
#include "kafka/client/relay_budget.h"
#include "kafka/client/relay_thread.h"
#include "kafka/client/svid_feed.h"
#include "kafka/client/upstream/broker_verifier.h"
#include "kafka/client/upstream/rotation_scheduler.h"
#include "kafka/client/upstream_open.h"

namespace mayfly::kafka {

// What every relay of one KafkaIdentity shares. Immutable once built.
struct RelayEnv {
  std::shared_ptr<SvidFeed> feed;
  const identity::Clock* clock = nullptr;
  BrokerIdPolicy broker_policy;
  RotationPolicy rotation;
  absl::Duration connect_timeout = absl::Seconds(30);
  // ClientOptions::connect_to.
  std::function<std::string(absl::string_view)> connect_to;
  // How long a failed rotation waits before the next try.
  absl::Duration rotation_retry = absl::Seconds(1);
  std::shared_ptr<ClientCounters> counters;
  // Null: no logs.
  LogSink* log_sink = nullptr;
  // The relays' limits (ClientOptions) and what they count against: the
  // process's budget unless a test gives its own.
  RelayBudget* budget = &RelayBudget::Process();
  int64_t max_connections = kDefaultMaxConnections;
  int64_t max_buffered_bytes = kDefaultMaxBufferedBytes;
  // How the relay and its rotation helper threads start.
  ThreadStarter start_thread = RelayThread::Start;
};

// librdkafka's end of a socketpair as connect_cb left it.
struct HeldClient {
  // A dup of librdkafka's fd, to restore its send buffer (a dup, so that
  // librdkafka closing its fd never leaves the relay holding a number the
  // process may reuse).
  identity::UniqueFd fd;
  // Filler bytes written to keep librdkafka in CONNECT.
  size_t filler = 0;
  // SO_SNDBUF as getsockopt reported it before it was shrunk.
  int original_sndbuf = 0;
};

class Relay {
 public:
  // Starts the thread, which holds `slot` until it ends. `relay_end` is
  // the relay's end of the socketpair; `seed` spreads this connection's
  // rotations (rotation_scheduler.h). ResourceExhausted when no thread
  // (or eventfd) can be had.
  static absl::StatusOr<std::unique_ptr<Relay>> Start(
      std::shared_ptr<const RelayEnv> env, identity::UniqueFd relay_end,
      HeldClient client, BrokerTarget target, uint64_t seed,
      RelayBudget::Slot slot);
  ~Relay();

  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Asks the thread to close everything and end; does not wait.
  void Stop();
  // True once the thread has ended (join is then immediate).
  bool done() const { return done_.load(); }

 private:
  Relay() = default;

  identity::UniqueFd wake_fd_;    // eventfd: look again (SVID change, ...)
  identity::UniqueFd cancel_fd_;  // eventfd, written once by Stop()
  uint64_t feed_key_ = 0;
  std::shared_ptr<const RelayEnv> env_;
  std::atomic<bool> done_{false};
  RelayThread thread_;
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_RELAY_H_
