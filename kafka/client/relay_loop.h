// RelayLoop: the thread body of one Relay (relay.h), split out so that its
// two halves read on their own: relay_loop.cc connects, plans rotations and
// runs the poll rounds; relay_loop_io.cc moves bytes between the
// socketpair, the upstreams and RelayConn. Private to //kafka/client.
//
// Thread-compatible: Run() and everything it calls run on the relay's
// thread, except the helper thread StartPreparing starts, which touches
// only the immutable members and `prepared_` (under its lock).
#ifndef MAYFLY_KAFKA_CLIENT_RELAY_LOOP_H_
#define MAYFLY_KAFKA_CLIENT_RELAY_LOOP_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "identity/unique_fd.h"
#include "kafka/client/internal/relay_conn.h"
#include "kafka/client/relay.h"
#include "kafka/client/relay_thread.h"
#include "kafka/client/upstream/rotation_scheduler.h"
#include "kafka/client/upstream/tls_upstream.h"
#include "kafka/client/upstream_open.h"

namespace mayfly::kafka {

inline constexpr size_t kRelayReadChunk = 64 * 1024;
// Reads per fd per poll round: bounded, so one busy direction cannot starve
// the other.
inline constexpr int kRelayReadsPerRound = 16;
// Stop reading one side while this much waits to be written to the other.
inline constexpr size_t kRelayMaxBuffered = 4 << 20;
// No close_notify this close to the SVID's NotAfter: it could reach the
// broker after it (RelayLoop::Close).
inline constexpr absl::Duration kCloseNotifyMargin = absl::Milliseconds(500);
// While the process's relays hold ClientOptions::max_buffered_bytes, a
// relay reads nothing and looks again this often (nothing wakes it when
// another relay's writes bring the total down). Short next to Kafka's
// request timeouts; long enough that a stalled relay costs no CPU.
inline constexpr absl::Duration kBudgetRecheck = absl::Milliseconds(10);
// The filler is at most a few KiB (relay.h); the drain is bounded anyway.
inline constexpr absl::Duration kFillerDrainTimeout = absl::Seconds(5);

// Writes 1 to an eventfd.
void PokeEventFd(int fd);
// "ID until NotAfter" of the SVID `up` presents, for logs.
std::string SvidOf(const TlsUpstream& up);

class RelayLoop {
 public:
  RelayLoop(const RelayEnv& env, int wake_fd, int cancel_fd,
            identity::UniqueFd relay_end, HeldClient client,
            BrokerTarget target, uint64_t seed)
      : env_(env),
        clock_(*env.clock),
        wake_fd_(wake_fd),
        cancel_fd_(cancel_fd),
        relay_end_(std::move(relay_end)),
        client_(std::move(client)),
        target_(std::move(target)),
        seed_(seed) {}
  // Cancels and joins the helper thread, if one runs.
  ~RelayLoop();

  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // The connection's whole life: first upstream, rounds until the end,
  // every upstream closed.
  void Run();

 private:
  struct Up {
    std::unique_ptr<TlsUpstream> tls;
    std::string out;
    SvidLife life;
  };
  struct Prepared {
    absl::StatusOr<std::unique_ptr<TlsUpstream>> result;
    UpstreamFailure failure = UpstreamFailure::kNone;
    SvidLife life;
  };

  // To the LogSink, with the broker's address first.
  void Log(LogLevel level, absl::string_view event,
           std::vector<std::pair<absl::string_view, std::string>> fields);
  // The counter an upstream failure belongs to, and last_error.
  void CountFailure(UpstreamFailure failure, const absl::Status& status);

  // The first upstream, with librdkafka held in CONNECT. False when the
  // connection failed (the relay end then closes with the filler unread:
  // ECONNRESET for librdkafka, CLIENT_DESIGN.md 1.2).
  bool OpenFirst();

  // Lets librdkafka out of CONNECT: its send buffer back to its size, then
  // the filler read and dropped, so POLLOUT fires with SO_ERROR 0.
  bool ReleaseClient();

  // One poll and what it found. Cancelled when librdkafka or Stop() ended
  // the connection; any other error ends it too and is logged.
  absl::Status Round();
  // Bytes waiting to be written to the live upstreams.
  size_t PendingUpstreamBytes() const;
  // Brings env_.budget's count of this relay's buffered bytes up to date;
  // `end`: to zero.
  void Account(bool end);

  // Decides whether to start moving to a newer SVID.
  absl::Status Plan(absl::Time now);

  // Opens an upstream on `gen` on the helper thread (preparer_).
  void StartPreparing(SvidGeneration gen);
  // The helper thread's result, if it has one: BeginSwitch to it, or count
  // the failure and retry after RelayEnv::rotation_retry.
  absl::Status TakePrepared();
  // From librdkafka into RelayConn.
  absl::Status ReadClient();
  // From upstream `id` into RelayConn; Unavailable when it ended.
  absl::Status ReadUpstream(uint64_t id, Up& up);

  // Retired upstreams owe nothing; what they send is dropped, and an end
  // or an error just ends them.
  void DrainRetiring();

  // What RelayConn has for librdkafka and each upstream, and the
  // upstreams it retired (each a completed rotation).
  absl::Status Collect();
  // Writes what is buffered, as far as the sockets take it.
  absl::Status WriteOut();

  // Ends an upstream: close_notify while its SVID is valid, a bare TCP
  // close once it may not be. A TLS record the broker reads after our
  // NotAfter is what the broker plugin treats as use of an expired SVID
  // (WARN, counted); a bare end of stream is an ordinary disconnect. An
  // upstream can outlive its NotAfter only while it still owes a response
  // (a JoinGroup waiting for the rebalance) after the switch.
  void Close(Up& up);

  // Writes `up.out` as far as the socket takes it.
  static absl::Status Flush(Up& up);

  const RelayEnv& env_;
  const identity::Clock& clock_;
  const int wake_fd_;
  const int cancel_fd_;
  identity::UniqueFd relay_end_;
  HeldClient client_;
  const BrokerTarget target_;
  const uint64_t seed_;

  std::optional<internal::RelayConn> conn_;
  std::optional<RotationTracker> tracker_;
  std::map<uint64_t, Up> live_;  // the current upstream, and the next
  std::vector<Up> retiring_;
  uint64_t next_id_ = 1;
  std::string to_client_;
  absl::Time wake_at_ = absl::InfiniteFuture();
  absl::Time retry_at_ = absl::InfinitePast();
  uint64_t forced_seen_ = 0;
  absl::Duration switch_started_;  // Monotonic() at the last BeginSwitch

  // What this relay has added to env_.budget's buffered bytes.
  int64_t accounted_ = 0;

  bool preparing_ = false;
  RelayThread preparer_;
  absl::Mutex prepared_mu_;
  std::optional<Prepared> prepared_ ABSL_GUARDED_BY(prepared_mu_);
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_RELAY_LOOP_H_
