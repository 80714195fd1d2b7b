// RelayLoop's connection, planning and poll rounds: see relay_loop.h.
#include "kafka/client/relay_loop.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::kafka {
namespace {

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

}  // namespace

void PokeEventFd(int fd) {
  const uint64_t one = 1;
  (void)!::write(fd, &one, sizeof(one));
}

std::string SvidOf(const TlsUpstream& up) {
  return absl::StrCat(up.svid()->id.ToString(), " until ",
                      absl::FormatTime(absl::RFC3339_sec, up.svid()->not_after,
                                       absl::UTCTimeZone()));
}

RelayLoop::~RelayLoop() {
  if (preparer_.joinable()) {
    PokeEventFd(cancel_fd_);
    preparer_.Join();
  }
}

void RelayLoop::Run() {
  if (!OpenFirst()) return;
  ++env_.counters->active_connections;
  absl::Status end;
  while (end.ok()) {
    end = Round();
    Account(/*end=*/false);
  }
  Account(/*end=*/true);
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

void RelayLoop::Log(
    LogLevel level, absl::string_view event,
    std::vector<std::pair<absl::string_view, std::string>> fields) {
  if (env_.log_sink == nullptr) return;
  fields.insert(fields.begin(), {"broker", target_.name});
  env_.log_sink->Write(level, event, fields);
}

void RelayLoop::CountFailure(UpstreamFailure failure,
                             const absl::Status& status) {
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

bool RelayLoop::OpenFirst() {
  absl::StatusOr<SvidGeneration> gen =
      env_.feed->NewestUsable(env_.rotation.hard_deadline_margin);
  UpstreamFailure failure = UpstreamFailure::kNoSvid;
  absl::StatusOr<std::unique_ptr<TlsUpstream>> up =
      gen.ok() ? OpenUpstream(target_, gen->context, env_.feed->source(),
                              clock_, env_.broker_policy, env_.connect_timeout,
                              cancel_fd_, &failure)
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
      {{"broker_id", (*up)->broker_id().ToString()}, {"svid", SvidOf(**up)}});
  conn_.emplace(next_id_, gen->life.not_after, clock_);
  tracker_.emplace(env_.rotation, seed_, gen->life);
  live_[next_id_] = Up{*std::move(up), "", gen->life};
  ++next_id_;
  return true;
}

bool RelayLoop::ReleaseClient() {
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

absl::Status RelayLoop::Round() {
  const absl::Time now = clock_.Now();
  RETURN_IF_ERROR(Plan(now));
  std::vector<pollfd> fds;
  const bool over_budget = env_.budget->buffered() >= env_.max_buffered_bytes;
  const bool want_client = !over_budget && conn_->WantClientBytes() &&
                           PendingUpstreamBytes() < kRelayMaxBuffered;
  fds.push_back({relay_end_.get(),
                 static_cast<short>((want_client ? POLLIN : 0) |
                                    (to_client_.empty() ? 0 : POLLOUT)),
                 0});
  fds.push_back({wake_fd_, POLLIN, 0});
  fds.push_back({cancel_fd_, POLLIN, 0});
  const bool want_upstream =
      !over_budget && to_client_.size() < kRelayMaxBuffered;
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
    fds.push_back({up.tls->fd(),
                   static_cast<short>(POLLIN | (up.out.empty() ? 0 : POLLOUT)),
                   0});
  }
  absl::Duration timeout = conn_->NextTickIn();
  if (wake_at_ != absl::InfiniteFuture()) {
    timeout = std::min(timeout, std::max(wake_at_ - now, absl::ZeroDuration()));
  }
  if (over_budget) timeout = std::min(timeout, kBudgetRecheck);
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

size_t RelayLoop::PendingUpstreamBytes() const {
  size_t total = 0;
  for (const auto& [id, up] : live_) total += up.out.size();
  return total;
}

void RelayLoop::Account(bool end) {
  int64_t now = 0;
  if (!end) {
    now = static_cast<int64_t>(to_client_.size() + PendingUpstreamBytes());
    for (const auto& up : retiring_) now += static_cast<int64_t>(up.out.size());
  }
  if (now != accounted_) env_.budget->AddBuffered(now - accounted_);
  accounted_ = now;
}

absl::Status RelayLoop::Plan(absl::Time now) {
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

void RelayLoop::StartPreparing(SvidGeneration gen) {
  preparing_ = true;
  preparer_.Join();
  absl::StatusOr<RelayThread> thread =
      env_.start_thread([this, gen = std::move(gen)] {
        Prepared prepared;
        prepared.life = gen.life;
        prepared.result =
            OpenUpstream(target_, gen.context, env_.feed->source(), clock_,
                         env_.broker_policy, env_.connect_timeout, cancel_fd_,
                         &prepared.failure);
        {
          absl::MutexLock lock(&prepared_mu_);
          prepared_ = std::move(prepared);
        }
        PokeEventFd(wake_fd_);
      });
  if (thread.ok()) {
    preparer_ = *std::move(thread);
    return;
  }
  // No helper thread: a failed rotation, tried again after rotation_retry
  // (TakePrepared counts it).
  {
    absl::MutexLock lock(&prepared_mu_);
    prepared_ = Prepared{thread.status(), UpstreamFailure::kNetwork, {}};
  }
  PokeEventFd(wake_fd_);
}

absl::Status RelayLoop::TakePrepared() {
  std::optional<Prepared> prepared;
  {
    absl::MutexLock lock(&prepared_mu_);
    prepared.swap(prepared_);
  }
  if (!prepared.has_value()) return absl::OkStatus();
  preparing_ = false;
  preparer_.Join();
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

}  // namespace mayfly::kafka
