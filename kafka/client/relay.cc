// One relayed librdkafka connection: see relay.h.
#include "kafka/client/relay.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "identity/status_macros.h"
#include "kafka/client/internal/relay_conn.h"

namespace mayfly::kafka {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Reads per fd per poll round: bounded, so one busy direction cannot starve
// the other.
constexpr int kMaxReadsPerRound = 16;
// Stop reading one side while this much waits to be written to the other.
constexpr size_t kMaxBuffered = 4 << 20;
// No close_notify this close to the SVID's NotAfter: it could reach the
// broker after it (Close below).
constexpr absl::Duration kCloseNotifyMargin = absl::Milliseconds(500);
// The filler is at most a few KiB (relay.h); the drain is bounded anyway.
constexpr absl::Duration kFillerDrainTimeout = absl::Seconds(5);

void Poke(int fd) {
  const uint64_t one = 1;
  (void)!::write(fd, &one, sizeof(one));
}

void DrainEventFd(int fd) {
  uint64_t value = 0;
  (void)!::read(fd, &value, sizeof(value));
}

int PollTimeoutMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  return static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))), 0,
      INT_MAX));
}

std::string Serial(const TlsUpstream& up) {
  return absl::StrCat(up.svid()->id.ToString(), " until ",
                      absl::FormatTime(absl::RFC3339_sec, up.svid()->not_after,
                                       absl::UTCTimeZone()));
}

}  // namespace

class Relay::Loop {
 public:
  Loop(const RelayEnv& env, int wake_fd, int cancel_fd,
       identity::UniqueFd relay_end, HeldClient client, BrokerTarget target,
       uint64_t seed)
      : env_(env),
        clock_(*env.clock),
        wake_fd_(wake_fd),
        cancel_fd_(cancel_fd),
        relay_end_(std::move(relay_end)),
        client_(std::move(client)),
        target_(std::move(target)),
        seed_(seed) {}

  ~Loop() {
    if (preparer_.joinable()) {
      Poke(cancel_fd_);
      preparer_.join();
    }
  }

  void Run() {
    if (!OpenFirst()) return;
    ++env_.counters->active_connections;
    absl::Status end;
    while (end.ok()) end = Round();
    --env_.counters->active_connections;
    if (!absl::IsCancelled(end)) {
      if (!absl::IsFailedPrecondition(end)) ++env_.counters->upstream_closed;
      env_.counters->SetLastError(end.message());
      Log(LogLevel::kWarn, "kafka_connection_closed",
          {{"error", std::string(end.message())}});
    }
    for (auto& [id, up] : live_) Close(up);
    for (auto& up : retiring_) Close(up);
  }

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

  void Log(LogLevel level, absl::string_view event,
           std::vector<std::pair<absl::string_view, std::string>> fields) {
    if (env_.log_sink == nullptr) return;
    fields.insert(fields.begin(), {"broker", target_.name});
    env_.log_sink->Write(level, event, fields);
  }

  void CountFailure(UpstreamFailure failure, const absl::Status& status) {
    switch (failure) {
      case UpstreamFailure::kNoSvid:
        ++env_.counters->svid_unavailable;
        break;
      case UpstreamFailure::kPeerRejected:
        ++env_.counters->peer_rejected;
        break;
      case UpstreamFailure::kSvidRefused:
        ++env_.counters->svid_refused;
        break;
      case UpstreamFailure::kNetwork:
      case UpstreamFailure::kNone:
        break;
    }
    env_.counters->SetLastError(status.message());
  }

  // The first upstream, with librdkafka held in CONNECT. False when the
  // connection failed (the relay end then closes with the filler unread:
  // ECONNRESET for librdkafka, CLIENT_DESIGN.md 1.2).
  bool OpenFirst() {
    absl::StatusOr<SvidGeneration> gen =
        env_.feed->NewestUsable(env_.rotation.hard_deadline_margin);
    UpstreamFailure failure = UpstreamFailure::kNoSvid;
    absl::StatusOr<std::unique_ptr<TlsUpstream>> up =
        gen.ok() ? OpenUpstream(target_, gen->context, env_.feed->source(),
                                clock_, env_.broker_policy,
                                env_.connect_timeout, cancel_fd_, &failure)
                 : absl::StatusOr<std::unique_ptr<TlsUpstream>>(gen.status());
    if (!up.ok()) {
      ++env_.counters->connect_failures;
      CountFailure(failure, up.status());
      Log(LogLevel::kWarn, "kafka_connect_failed",
          {{"error", std::string(up.status().message())}});
      return false;
    }
    if (!ReleaseClient()) return false;
    Log(LogLevel::kInfo, "kafka_connected",
        {{"broker_id", (*up)->broker_id().ToString()}, {"svid", Serial(**up)}});
    conn_.emplace(next_id_, gen->life.not_after, clock_);
    tracker_.emplace(env_.rotation, seed_, gen->life);
    live_[next_id_] = Up{*std::move(up), "", gen->life};
    ++next_id_;
    return true;
  }

  // Lets librdkafka out of CONNECT: its send buffer back to its size, then
  // the filler read and dropped, so POLLOUT fires with SO_ERROR 0.
  bool ReleaseClient() {
    const int size = std::max(client_.original_sndbuf / 2, 4096);
    (void)::setsockopt(client_.fd.get(), SOL_SOCKET, SO_SNDBUF, &size,
                       sizeof(size));
    client_.fd.reset();
    char junk[4096];
    size_t left = client_.filler;
    const absl::Duration deadline = clock_.Monotonic() + kFillerDrainTimeout;
    while (left > 0 && clock_.Monotonic() < deadline) {
      const ssize_t n = ::recv(relay_end_.get(), junk,
                               std::min(left, sizeof(junk)), MSG_DONTWAIT);
      if (n > 0) {
        left -= static_cast<size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return false;  // librdkafka gave up on the connection meanwhile
      } else {
        pollfd p{relay_end_.get(), POLLIN, 0};
        (void)::poll(&p, 1, 100);
      }
    }
    return left == 0;
  }

  absl::Status Round() {
    const absl::Time now = clock_.Now();
    RETURN_IF_ERROR(Plan(now));
    std::vector<pollfd> fds;
    const bool want_client =
        conn_->WantClientBytes() && PendingUpstreamBytes() < kMaxBuffered;
    fds.push_back({relay_end_.get(),
                   static_cast<short>((want_client ? POLLIN : 0) |
                                      (to_client_.empty() ? 0 : POLLOUT)),
                   0});
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({cancel_fd_, POLLIN, 0});
    const bool want_upstream = to_client_.size() < kMaxBuffered;
    bool pending_tls = false;
    // Which fds entry is whose: TakePrepared may add an upstream below.
    std::vector<std::pair<uint64_t, size_t>> polled;
    for (auto& [id, up] : live_) {
      polled.emplace_back(id, fds.size());
      fds.push_back({up.tls->fd(),
                     static_cast<short>((want_upstream ? POLLIN : 0) |
                                        (up.out.empty() ? 0 : POLLOUT)),
                     0});
      pending_tls |= want_upstream && up.tls->Pending() > 0;
    }
    for (auto& up : retiring_) {
      fds.push_back(
          {up.tls->fd(),
           static_cast<short>(POLLIN | (up.out.empty() ? 0 : POLLOUT)), 0});
    }
    absl::Duration timeout = conn_->NextTickIn();
    if (wake_at_ != absl::InfiniteFuture()) {
      timeout =
          std::min(timeout, std::max(wake_at_ - now, absl::ZeroDuration()));
    }
    if (pending_tls) timeout = absl::ZeroDuration();
    if (::poll(fds.data(), fds.size(), PollTimeoutMs(timeout)) < 0 &&
        errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if ((fds[2].revents & POLLIN) != 0) {
      return absl::CancelledError("the connection was closed by librdkafka");
    }
    if ((fds[1].revents & POLLIN) != 0) DrainEventFd(wake_fd_);
    RETURN_IF_ERROR(TakePrepared());
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      RETURN_IF_ERROR(ReadClient());
    }
    for (const auto& [id, index] : polled) {
      auto it = live_.find(id);
      if (it == live_.end()) continue;
      const short revents = fds[index].revents;
      if (want_upstream && ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 ||
                            it->second.tls->Pending() > 0)) {
        RETURN_IF_ERROR(ReadUpstream(id, it->second));
      }
    }
    DrainRetiring();
    if (conn_->NextTickIn() <= absl::ZeroDuration()) {
      RETURN_IF_ERROR(conn_->Tick());
    }
    RETURN_IF_ERROR(Collect());
    return WriteOut();
  }

  size_t PendingUpstreamBytes() const {
    size_t total = 0;
    for (const auto& [id, up] : live_) total += up.out.size();
    return total;
  }

  // Decides whether to start moving to a newer SVID.
  absl::Status Plan(absl::Time now) {
    wake_at_ = absl::InfiniteFuture();
    if (preparing_ || conn_->next().has_value()) return absl::OkStatus();
    if (now < retry_at_) {
      wake_at_ = retry_at_;
      return absl::OkStatus();
    }
    absl::StatusOr<SvidGeneration> newest = env_.feed->Newest();
    std::optional<SvidLife> life;
    if (newest.ok()) life = newest->life;
    const RotationDecision decision = tracker_->Decide(now, life);
    if (decision.newly_overdue) {
      ++env_.counters->overdue_rotations;
      Log(LogLevel::kInfo, "kafka_rotation_overdue",
          {{"error", newest.ok() ? "no newer X.509-SVID yet"
                                 : std::string(newest.status().message())}});
    }
    switch (decision.action) {
      case RotationAction::kWait:
      case RotationAction::kOverdue:
        wake_at_ = decision.at;
        return absl::OkStatus();
      case RotationAction::kSwitch:
        StartPreparing(*std::move(newest));
        return absl::OkStatus();
      case RotationAction::kExpired:
        break;
    }
    // Past the hard deadline with nothing newer: no request may start on
    // this upstream any more, and a close after NotAfter would reach the
    // broker as a read on an expired SVID (the plugin logs those). Close
    // now; librdkafka reconnects once the source has a fresh SVID.
    ++env_.counters->svid_unavailable;
    return absl::FailedPreconditionError(absl::StrCat(
        "the X.509-SVID of the connection expires at ",
        absl::FormatTime(absl::RFC3339_sec, tracker_->current().not_after,
                         absl::UTCTimeZone()),
        " and the source has no newer one",
        newest.ok() ? "" : absl::StrCat(" (", newest.status().message(), ")"),
        "; closing the connection before it expires"));
  }

  void StartPreparing(SvidGeneration gen) {
    preparing_ = true;
    if (preparer_.joinable()) preparer_.join();
    preparer_ = std::thread([this, gen = std::move(gen)] {
      Prepared prepared;
      prepared.life = gen.life;
      prepared.result = OpenUpstream(
          target_, gen.context, env_.feed->source(), clock_, env_.broker_policy,
          env_.connect_timeout, cancel_fd_, &prepared.failure);
      {
        absl::MutexLock lock(&prepared_mu_);
        prepared_ = std::move(prepared);
      }
      Poke(wake_fd_);
    });
  }

  absl::Status TakePrepared() {
    std::optional<Prepared> prepared;
    {
      absl::MutexLock lock(&prepared_mu_);
      prepared.swap(prepared_);
    }
    if (!prepared.has_value()) return absl::OkStatus();
    preparing_ = false;
    preparer_.join();
    if (!prepared->result.ok()) {
      ++env_.counters->rotation_failures;
      CountFailure(prepared->failure, prepared->result.status());
      Log(LogLevel::kWarn, "kafka_rotation_failed",
          {{"error", std::string(prepared->result.status().message())}});
      retry_at_ = clock_.Now() + env_.rotation_retry;
      return absl::OkStatus();
    }
    const uint64_t id = next_id_++;
    switch_started_ = clock_.Monotonic();
    RETURN_IF_ERROR(conn_->BeginSwitch(id, prepared->life.not_after));
    live_[id] = Up{*std::move(prepared->result), "", prepared->life};
    return absl::OkStatus();
  }

  absl::Status ReadClient() {
    char buf[kReadChunk];
    for (int i = 0; i < kMaxReadsPerRound && conn_->WantClientBytes(); ++i) {
      const ssize_t n =
          ::recv(relay_end_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        RETURN_IF_ERROR(conn_->OnClientBytes(
            absl::string_view(buf, static_cast<size_t>(n))));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      return absl::CancelledError("librdkafka closed the connection");
    }
    return absl::OkStatus();
  }

  absl::Status ReadUpstream(uint64_t id, Up& up) {
    char buf[kReadChunk];
    for (int i = 0; i < kMaxReadsPerRound; ++i) {
      absl::StatusOr<TlsIo> io = up.tls->Read(buf, sizeof(buf));
      if (!io.ok()) return io.status();
      if (io->eof) {
        return absl::UnavailableError(absl::StrCat(
            "broker ", target_.name, " (", up.tls->broker_id().ToString(),
            ") closed the connection"));
      }
      if (io->bytes == 0) break;
      RETURN_IF_ERROR(
          conn_->OnUpstreamBytes(id, absl::string_view(buf, io->bytes)));
    }
    return absl::OkStatus();
  }

  // Retired upstreams owe nothing; what they send is dropped, and an end
  // or an error just ends them.
  void DrainRetiring() {
    char buf[kReadChunk];
    for (auto it = retiring_.begin(); it != retiring_.end();) {
      absl::StatusOr<TlsIo> io = it->tls->Read(buf, sizeof(buf));
      if (!io.ok() || io->eof) {
        it = retiring_.erase(it);
      } else {
        ++it;
      }
    }
  }

  absl::Status Collect() {
    to_client_ += conn_->TakeClientOutput();
    for (auto& [id, up] : live_) up.out += conn_->TakeUpstreamOutput(id);
    for (internal::RelayConn::Retired& retired : conn_->TakeRetired()) {
      auto it = live_.find(retired.id);
      if (it == live_.end()) continue;
      Up old = std::move(it->second);
      live_.erase(it);
      old.out += retired.final_output;
      const Up& now_current = live_.at(conn_->current());
      tracker_->Switched(now_current.life);
      ++env_.counters->rotations;
      // How long new requests waited for the old upstream to answer.
      const absl::Duration drain = clock_.Monotonic() - switch_started_;
      Log(LogLevel::kInfo, "kafka_connection_rotated",
          {{"from", Serial(*old.tls)},
           {"to", Serial(*now_current.tls)},
           {"drain_ms", absl::StrCat(absl::ToDoubleMilliseconds(drain))}});
      retiring_.push_back(std::move(old));
    }
    const uint64_t forced = conn_->counters().forced_overlaps;
    env_.counters->forced_overlaps += forced - forced_seen_;
    forced_seen_ = forced;
    return absl::OkStatus();
  }

  absl::Status WriteOut() {
    size_t sent_total = 0;
    while (sent_total < to_client_.size()) {
      const ssize_t n =
          ::send(relay_end_.get(), to_client_.data() + sent_total,
                 to_client_.size() - sent_total, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent_total += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        break;
      } else {
        return absl::CancelledError("librdkafka closed the connection");
      }
    }
    to_client_.erase(0, sent_total);
    for (auto& [id, up] : live_) RETURN_IF_ERROR(Flush(up));
    for (auto it = retiring_.begin(); it != retiring_.end();) {
      if (!Flush(*it).ok() || it->out.empty()) {
        Close(*it);
        it = retiring_.erase(it);
      } else {
        ++it;
      }
    }
    return absl::OkStatus();
  }

  // Ends an upstream: close_notify while its SVID is valid, a bare TCP
  // close once it may not be. A TLS record the broker reads after our
  // NotAfter is what the broker plugin treats as use of an expired SVID
  // (WARN, counted); a bare end of stream is an ordinary disconnect. An
  // upstream can outlive its NotAfter only while it still owes a response
  // (a JoinGroup waiting for the rebalance) after the switch.
  void Close(Up& up) {
    if (clock_.Now() < up.life.not_after - kCloseNotifyMargin) {
      up.tls->Shutdown();
    }
    up.tls.reset();
  }

  static absl::Status Flush(Up& up) {
    size_t written = 0;
    while (written < up.out.size()) {
      ASSIGN_OR_RETURN(
          TlsIo io, up.tls->Write(absl::string_view(up.out).substr(written)));
      if (io.bytes == 0) break;
      written += io.bytes;
    }
    up.out.erase(0, written);
    return absl::OkStatus();
  }

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

  bool preparing_ = false;
  std::thread preparer_;
  absl::Mutex prepared_mu_;
  std::optional<Prepared> prepared_ ABSL_GUARDED_BY(prepared_mu_);
};

absl::StatusOr<std::unique_ptr<Relay>> Relay::Start(
    std::shared_ptr<const RelayEnv> env, identity::UniqueFd relay_end,
    HeldClient client, BrokerTarget target, uint64_t seed) {
  std::unique_ptr<Relay> relay(new Relay());
  relay->wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  relay->cancel_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (relay->wake_fd_.get() < 0 || relay->cancel_fd_.get() < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  relay->env_ = env;
  const int wake_fd = relay->wake_fd_.get();
  relay->feed_key_ = env->feed->Subscribe([wake_fd] { Poke(wake_fd); });
  Relay* raw = relay.get();
  relay->thread_ = std::thread([raw, env, relay_end = std::move(relay_end),
                                client = std::move(client),
                                target = std::move(target), seed]() mutable {
    {
      Loop loop(*env, raw->wake_fd_.get(), raw->cancel_fd_.get(),
                std::move(relay_end), std::move(client), std::move(target),
                seed);
      loop.Run();
    }
    raw->done_ = true;
  });
  return relay;
}

Relay::~Relay() {
  Stop();
  if (thread_.joinable()) thread_.join();
  if (env_ != nullptr) env_->feed->Unsubscribe(feed_key_);
}

void Relay::Stop() {
  if (cancel_fd_.get() >= 0) Poke(cancel_fd_.get());
}

}  // namespace mayfly::kafka
