// The state machine of one relayed Kafka connection, with no I/O of its own.
//
// librdkafka writes plaintext Kafka requests to its end of a socketpair; the
// relay thread reads them and feeds them here (OnClientBytes), feeds what
// each TLS upstream sends (OnUpstreamBytes), and writes what this object
// hands back (TakeClientOutput, TakeUpstreamOutput). In between, RelayConn
// decides which upstream each request goes to, so that the upstream can be
// replaced between requests without librdkafka noticing
// (kafka/CLIENT_DESIGN.md, section 1.4):
//
//   kActive    every request goes to the current upstream.
//   kDraining  after BeginSwitch(next): requests that start now are held
//              back; the current upstream still receives the rest of a
//              request it had begun and delivers its responses. Once it has
//              answered everything (no request in flight, no partial frame
//              either way) it is retired, `next` becomes current, and the
//              held requests go to it, in order.
//   kOverlap   entered from kDraining when the drain has lasted
//              Options::overlap_after, no request is half-written to the
//              old upstream and every request still awaiting it is
//              order-insensitive (Fetch, Metadata, ...), or
//              forced at the old SVID's NotAfter minus kRequestDeadlineMargin
//              whatever is pending. New requests go to `next` at once; the old
//              upstream only delivers its remaining responses; whole response
//              frames from both are merged towards the client (librdkafka
//              matches responses by correlation id, broker.c:1790-1810).
//              When the old upstream is done it is retired as above.
//
// The rule behind the deadline: no request starts on an upstream at or after
// its NotAfter - 1 s. In kActive with no switch under way, requests that
// start after that point are held until BeginSwitch supplies an upstream.
//
// Each upstream must answer its requests in order (Kafka protocol guide:
// "responses will return in that order"); Produce with acks=0 is never
// awaited. A response with another correlation id, a malformed frame either
// way, or bytes from an upstream with nothing in flight, is an error: the
// caller closes the socketpair, which librdkafka sees as a disconnect. After
// an error every mutating call returns it again.
//
// Time: the wall clock (Clock::Now) for NotAfter, the monotonic clock for the
// drain timer. Thread-compatible: one relay thread owns the object.
#ifndef MAYFLY_KAFKA_CLIENT_INTERNAL_RELAY_CONN_H_
#define MAYFLY_KAFKA_CLIENT_INTERNAL_RELAY_CONN_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "kafka/client/internal/frame.h"

namespace mayfly::kafka::internal {

// No request is written to an upstream after its SVID's NotAfter minus this
// (kafka/CLIENT_DESIGN.md 1.4: the plugin closes at the first read after it).
inline constexpr absl::Duration kRequestDeadlineMargin = absl::Seconds(1);
// Stop reading the client while this much is held (CLIENT_DESIGN.md 1.4).
inline constexpr size_t kDefaultHoldLimit = 1 << 20;
// A drain this long may turn into an overlap (CLIENT_DESIGN.md 1.4: longer
// than a typical request, well under fetch.wait.max.ms's 500 ms default).
inline constexpr absl::Duration kDefaultOverlapAfter = absl::Milliseconds(200);

// Requests whose responses may arrive in any order relative to requests on
// another connection (CLIENT_DESIGN.md 1.4): Fetch, ListOffsets, Metadata,
// OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, SyncGroup,
// DescribeGroups, ApiVersions. Never Produce, OffsetCommit or transactions.
bool IsOrderInsensitive(int16_t api_key);

// Limits of one relayed connection. (Outside RelayConn only so that it can
// be a default argument of RelayConn's constructor.)
struct RelayOptions {
  int32_t max_request_size = kDefaultMaxFrameSize;
  int32_t max_response_size = kDefaultMaxFrameSize;
  size_t hold_limit = kDefaultHoldLimit;
  absl::Duration overlap_after = kDefaultOverlapAfter;
};

class RelayConn {
 public:
  using UpstreamId = uint64_t;
  enum class State { kActive, kDraining, kOverlap };

  using Options = RelayOptions;

  struct Counters {
    uint64_t switches = 0;         // upstreams retired after a switch
    uint64_t overlaps = 0;         // drains that became overlaps in time
    uint64_t forced_overlaps = 0;  // ... forced by the deadline
  };

  // An upstream that will carry no more requests. Write `final_output`
  // (acks=0 Produce requests may still be in it), then close it with
  // close_notify.
  struct Retired {
    UpstreamId id;
    std::string final_output;
  };

  // `first` is a connected, verified upstream whose SVID expires at
  // `first_not_after`. `clock` must outlive this object.
  RelayConn(UpstreamId first, absl::Time first_not_after,
            const identity::Clock& clock, Options options = {});

  // Bytes librdkafka wrote to the socketpair, in any chunking.
  absl::Status OnClientBytes(absl::string_view data);
  // Bytes upstream `id` sent. FailedPrecondition (not sticky) for an id that
  // is neither current nor next: the caller should just close that upstream.
  absl::Status OnUpstreamBytes(UpstreamId id, absl::string_view data);

  // Starts moving to `next`, which must be connected, verified and probed
  // already. Switches at once if SwitchSafe(). FailedPrecondition while a
  // switch is under way; InvalidArgument unless `next` is above every id
  // used before (ids only increase, so a retired one is never reused).
  absl::Status BeginSwitch(UpstreamId next, absl::Time next_not_after);
  // Re-checks the drain timers. Call when NextTickIn() has passed.
  absl::Status Tick();
  // How long until Tick() may change something; InfiniteDuration if never.
  absl::Duration NextTickIn() const;

  // Bytes to write to the client or to upstream `id`; ownership moves to the
  // caller. Unknown ids give an empty string.
  std::string TakeClientOutput();
  std::string TakeUpstreamOutput(UpstreamId id);
  std::vector<Retired> TakeRetired();

  // False while Options::hold_limit or more bytes are held back.
  bool WantClientBytes() const {
    return held_.bytes.size() < options_.hold_limit;
  }
  // True when the current upstream could be replaced right now: nothing in
  // flight on it and no partial frame in either direction.
  bool SwitchSafe() const;

  State state() const { return state_; }
  UpstreamId current() const { return current_.id; }
  std::optional<UpstreamId> next() const;
  // Correlation ids awaiting a response from `id`, oldest first.
  std::vector<int32_t> InFlight(UpstreamId id) const;
  size_t held_bytes() const { return held_.bytes.size(); }
  const Counters& counters() const { return counters_; }

 private:
  struct Awaited {
    int32_t correlation_id;
    int16_t api_key;
  };
  // Where a request's bytes go and which responses are awaited there.
  struct Queue {
    std::string bytes;
    std::deque<Awaited> awaited;
  };
  struct Upstream {
    Upstream(UpstreamId id, absl::Time not_after, int32_t max_response_size)
        : id(id),
          not_after(not_after),
          responses(FrameSplitter::Kind::kResponses, max_response_size) {}
    UpstreamId id;
    absl::Time not_after;
    Queue out;
    FrameSplitter responses;
    // Response bytes waiting while the other upstream owns the client
    // stream with a partial frame (kOverlap only).
    std::string stash;
  };
  enum class Route { kCurrent, kNext, kHeld };

  absl::Status HandleClientBytes(absl::string_view data);
  absl::Status HandleUpstreamBytes(Upstream& u, absl::string_view data);
  absl::Status Advance();
  // Moves responses of `u` from `*data` to the client until the data ends
  // or the other upstream owns the client stream.
  absl::Status Deliver(Upstream& u, absl::string_view* data);
  absl::Status PumpStashes();
  absl::Status Match(Upstream& u, const FrameHeader& header);
  Route PickRoute() const;
  Queue& QueueFor(Route route);
  bool PastDeadline(const Upstream& u) const;
  bool RequestInProgressOnCurrent() const;
  bool CurrentDone() const;
  void StartOverlap(bool forced);
  void Swap();
  static void Release(Queue& from, Queue& to);
  absl::Status Sticky(absl::Status status);
  Upstream* Find(UpstreamId id);
  const Upstream* Find(UpstreamId id) const;

  const identity::Clock& clock_;
  const Options options_;
  State state_ = State::kActive;
  Upstream current_;
  std::optional<Upstream> next_;
  FrameSplitter requests_;
  Route route_ = Route::kCurrent;  // of the request frame being read
  Queue held_;
  std::string to_client_;
  // The upstream whose partial response frame ends to_client_, if any.
  std::optional<UpstreamId> client_owner_;
  absl::Duration drain_started_;
  std::vector<Retired> retired_;
  Counters counters_;
  absl::Status error_;
};

}  // namespace mayfly::kafka::internal

#endif  // MAYFLY_KAFKA_CLIENT_INTERNAL_RELAY_CONN_H_
