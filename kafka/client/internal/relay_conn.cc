// The relayed-connection state machine: routing of request frames, response
// matching, drain, overlap and swap.
#include "kafka/client/internal/relay_conn.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::kafka::internal {

bool IsOrderInsensitive(int16_t api_key) {
  switch (api_key) {
    case 1:   // Fetch
    case 2:   // ListOffsets
    case 3:   // Metadata
    case 9:   // OffsetFetch
    case 10:  // FindCoordinator
    case 11:  // JoinGroup
    case 12:  // Heartbeat
    case 14:  // SyncGroup
    case 15:  // DescribeGroups
    case 18:  // ApiVersions
      return true;
    default:
      return false;
  }
}

RelayConn::RelayConn(UpstreamId first, absl::Time first_not_after,
                     const identity::Clock& clock, Options options)
    : clock_(clock),
      options_(options),
      current_(first, first_not_after, options.max_response_size),
      requests_(FrameSplitter::Kind::kRequests, options.max_request_size) {}

absl::Status RelayConn::Sticky(absl::Status status) {
  if (!status.ok() && error_.ok()) error_ = status;
  return status;
}

RelayConn::Upstream* RelayConn::Find(UpstreamId id) {
  if (id == current_.id) return &current_;
  if (next_.has_value() && next_->id == id) return &*next_;
  return nullptr;
}

const RelayConn::Upstream* RelayConn::Find(UpstreamId id) const {
  return const_cast<RelayConn*>(this)->Find(id);
}

std::optional<RelayConn::UpstreamId> RelayConn::next() const {
  if (!next_.has_value()) return std::nullopt;
  return next_->id;
}

std::vector<int32_t> RelayConn::InFlight(UpstreamId id) const {
  std::vector<int32_t> ids;
  const Upstream* u = Find(id);
  if (u == nullptr) return ids;
  for (const Awaited& a : u->out.awaited) ids.push_back(a.correlation_id);
  return ids;
}

bool RelayConn::PastDeadline(const Upstream& u) const {
  return clock_.Now() >= u.not_after - kRequestDeadlineMargin;
}

RelayConn::Route RelayConn::PickRoute() const {
  switch (state_) {
    case State::kActive:
      return PastDeadline(current_) ? Route::kHeld : Route::kCurrent;
    case State::kDraining:
      return Route::kHeld;
    case State::kOverlap:
      return Route::kNext;
  }
  return Route::kHeld;
}

RelayConn::Queue& RelayConn::QueueFor(Route route) {
  switch (route) {
    case Route::kCurrent:
      return current_.out;
    case Route::kNext:
      return next_->out;
    case Route::kHeld:
      break;
  }
  return held_;
}

bool RelayConn::SwitchSafe() const { return CurrentDone(); }

bool RelayConn::RequestInProgressOnCurrent() const {
  return !requests_.AtBoundary() && route_ == Route::kCurrent;
}

bool RelayConn::CurrentDone() const {
  return current_.out.awaited.empty() && current_.responses.AtBoundary() &&
         !RequestInProgressOnCurrent();
}

void RelayConn::Release(Queue& from, Queue& to) {
  to.bytes.append(from.bytes);
  from.bytes.clear();
  for (const Awaited& a : from.awaited) to.awaited.push_back(a);
  from.awaited.clear();
}

void RelayConn::StartOverlap(bool forced) {
  state_ = State::kOverlap;
  ++(forced ? counters_.forced_overlaps : counters_.overlaps);
  Release(held_, next_->out);
  if (route_ == Route::kHeld) route_ = Route::kNext;
}

void RelayConn::Swap() {
  retired_.push_back({current_.id, std::move(current_.out.bytes)});
  // The retired upstream owns no partial response (CurrentDone), so the
  // client stream's owner, if any, is `next`, which keeps its identity.
  current_ = std::move(*next_);
  next_.reset();
  state_ = State::kActive;
  ++counters_.switches;
  Release(held_, current_.out);
  route_ = Route::kCurrent;
}

absl::Status RelayConn::Advance() {
  if (state_ == State::kActive) return absl::OkStatus();
  if (CurrentDone()) {
    Swap();
    // A stash `next` kept while the old upstream owned the client stream
    // can flow now.
    return PumpStashes();
  }
  if (state_ == State::kDraining) {
    if (PastDeadline(current_)) {
      StartOverlap(/*forced=*/true);
    } else if (clock_.Monotonic() - drain_started_ >= options_.overlap_after &&
               !RequestInProgressOnCurrent() &&
               std::all_of(current_.out.awaited.begin(),
                           current_.out.awaited.end(), [](const Awaited& a) {
                             return IsOrderInsensitive(a.api_key);
                           })) {
      // A request still being written to the current upstream may be a
      // Produce whose header is not even parsed yet: wait for its end.
      StartOverlap(/*forced=*/false);
    }
  }
  return absl::OkStatus();
}

absl::Status RelayConn::OnClientBytes(absl::string_view data) {
  RETURN_IF_ERROR(error_);
  return Sticky(HandleClientBytes(data));
}

absl::Status RelayConn::HandleClientBytes(absl::string_view data) {
  // Each chunk is at least one byte, so this ends.
  while (!data.empty()) {
    ASSIGN_OR_RETURN(FrameChunk chunk, requests_.Next(data));
    if (chunk.starts_frame) route_ = PickRoute();
    Queue& queue = QueueFor(route_);
    if (chunk.header.has_value() && chunk.header->expects_response) {
      queue.awaited.push_back(
          {chunk.header->correlation_id, chunk.header->api_key});
    }
    queue.bytes.append(data.data(), chunk.length);
    data.remove_prefix(chunk.length);
  }
  return Advance();
}

absl::Status RelayConn::OnUpstreamBytes(UpstreamId id, absl::string_view data) {
  RETURN_IF_ERROR(error_);
  Upstream* u = Find(id);
  if (u == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("upstream ", id, " sent ", data.size(),
                     " bytes but is retired or unknown: nothing is in flight "
                     "on it"));
  }
  return Sticky(HandleUpstreamBytes(*u, data));
}

absl::Status RelayConn::HandleUpstreamBytes(Upstream& u,
                                            absl::string_view data) {
  if (u.stash.empty()) RETURN_IF_ERROR(Deliver(u, &data));
  u.stash.append(data.data(), data.size());
  RETURN_IF_ERROR(PumpStashes());
  return Advance();
}

absl::Status RelayConn::Match(Upstream& u, const FrameHeader& header) {
  const int32_t got = header.correlation_id;
  if (u.out.awaited.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream ", u.id, " sent a response for correlation id ",
                     got, " but no request awaits one there"));
  }
  const int32_t want = u.out.awaited.front().correlation_id;
  if (got != want) {
    const bool known = std::any_of(
        u.out.awaited.begin(), u.out.awaited.end(),
        [got](const Awaited& a) { return a.correlation_id == got; });
    return absl::InvalidArgumentError(absl::StrCat(
        "upstream ", u.id, " sent a response for correlation id ", got,
        known ? " out of order" : ", which no request in flight there has",
        " (expected ", want, "; a broker answers in request order)"));
  }
  u.out.awaited.pop_front();
  return absl::OkStatus();
}

absl::Status RelayConn::Deliver(Upstream& u, absl::string_view* data) {
  while (!data->empty()) {
    if (client_owner_.has_value() && *client_owner_ != u.id) break;
    ASSIGN_OR_RETURN(FrameChunk chunk, u.responses.Next(*data));
    if (chunk.header.has_value()) RETURN_IF_ERROR(Match(u, *chunk.header));
    to_client_.append(data->data(), chunk.length);
    data->remove_prefix(chunk.length);
    if (chunk.ends_frame) {
      client_owner_.reset();
    } else {
      client_owner_ = u.id;
    }
  }
  return absl::OkStatus();
}

absl::Status RelayConn::PumpStashes() {
  // Every pass that does not stop moves at least one stashed byte.
  bool moved = true;
  while (moved) {
    moved = false;
    for (Upstream* u : {&current_, next_.has_value() ? &*next_ : nullptr}) {
      if (u == nullptr || u->stash.empty()) continue;
      if (client_owner_.has_value() && *client_owner_ != u->id) continue;
      std::string stash = std::move(u->stash);
      u->stash.clear();
      absl::string_view rest(stash);
      RETURN_IF_ERROR(Deliver(*u, &rest));
      moved = moved || rest.size() < stash.size();
      u->stash.assign(rest.data(), rest.size());
    }
  }
  return absl::OkStatus();
}

absl::Status RelayConn::BeginSwitch(UpstreamId next,
                                    absl::Time next_not_after) {
  RETURN_IF_ERROR(error_);
  if (state_ != State::kActive) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot switch to upstream ", next, ": the switch to ",
                     next_->id, " is still under way"));
  }
  if (next <= current_.id) {
    return absl::InvalidArgumentError(
        absl::StrCat("upstream id ", next, " is not above the current ",
                     current_.id, "; ids must increase"));
  }
  next_.emplace(next, next_not_after, options_.max_response_size);
  state_ = State::kDraining;
  drain_started_ = clock_.Monotonic();
  return Sticky(Advance());
}

absl::Status RelayConn::Tick() {
  RETURN_IF_ERROR(error_);
  return Sticky(Advance());
}

absl::Duration RelayConn::NextTickIn() const {
  if (state_ != State::kDraining) return absl::InfiniteDuration();
  const absl::Duration to_overlap =
      drain_started_ + options_.overlap_after - clock_.Monotonic();
  const absl::Duration to_deadline =
      current_.not_after - kRequestDeadlineMargin - clock_.Now();
  return std::max(absl::ZeroDuration(), std::min(to_overlap, to_deadline));
}

std::string RelayConn::TakeClientOutput() {
  std::string out;
  out.swap(to_client_);
  return out;
}

std::string RelayConn::TakeUpstreamOutput(UpstreamId id) {
  std::string out;
  Upstream* u = Find(id);
  if (u != nullptr) out.swap(u->out.bytes);
  return out;
}

std::vector<RelayConn::Retired> RelayConn::TakeRetired() {
  std::vector<Retired> out;
  out.swap(retired_);
  return out;
}

}  // namespace mayfly::kafka::internal
