// RelayLoop's byte moving: see relay_loop.h.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "kafka/client/relay_loop.h"

namespace mayfly::kafka {
namespace {

// A read buffer for one call, on the heap: an idle relay's thread keeps
// every stack page it ever touched, and most relays are idle
// (relay_scale_test).
std::unique_ptr<char[]> ReadBuffer() {
  return std::unique_ptr<char[]>(new char[kRelayReadChunk]);
}

}  // namespace

absl::Status RelayLoop::ReadClient() {
  const std::unique_ptr<char[]> owned = ReadBuffer();
  char* const buf = owned.get();
  for (int i = 0; i < kRelayReadsPerRound && conn_->WantClientBytes(); ++i) {
    const ssize_t n =
        ::recv(relay_end_.get(), buf, kRelayReadChunk, MSG_DONTWAIT);
    if (n > 0) {
      RETURN_IF_ERROR(
          conn_->OnClientBytes(absl::string_view(buf, static_cast<size_t>(n))));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    return absl::CancelledError("librdkafka closed the connection");
  }
  return absl::OkStatus();
}

absl::Status RelayLoop::ReadUpstream(uint64_t id, Up& up) {
  const std::unique_ptr<char[]> owned = ReadBuffer();
  char* const buf = owned.get();
  for (int i = 0; i < kRelayReadsPerRound; ++i) {
    absl::StatusOr<TlsIo> io = up.tls->Read(buf, kRelayReadChunk);
    if (!io.ok()) return io.status();
    if (io->eof) {
      return absl::UnavailableError(absl::StrCat("broker ", target_.name, " (",
                                                 up.tls->broker_id().ToString(),
                                                 ") closed the connection"));
    }
    if (io->bytes == 0) break;
    RETURN_IF_ERROR(
        conn_->OnUpstreamBytes(id, absl::string_view(buf, io->bytes)));
  }
  return absl::OkStatus();
}

void RelayLoop::DrainRetiring() {
  if (retiring_.empty()) return;
  const std::unique_ptr<char[]> owned = ReadBuffer();
  char* const buf = owned.get();
  for (auto it = retiring_.begin(); it != retiring_.end();) {
    absl::StatusOr<TlsIo> io = it->tls->Read(buf, kRelayReadChunk);
    if (!io.ok() || io->eof) {
      it = retiring_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status RelayLoop::Collect() {
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
        {{"from", SvidOf(*old.tls)},
         {"to", SvidOf(*now_current.tls)},
         {"drain_ms", absl::StrCat(absl::ToDoubleMilliseconds(drain))}});
    retiring_.push_back(std::move(old));
  }
  const uint64_t forced = conn_->counters().forced_overlaps;
  env_.counters->forced_overlaps += forced - forced_seen_;
  forced_seen_ = forced;
  return absl::OkStatus();
}

absl::Status RelayLoop::WriteOut() {
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

void RelayLoop::Close(Up& up) {
  if (clock_.Now() < up.life.not_after - kCloseNotifyMargin) {
    up.tls->Shutdown();
  }
  up.tls.reset();
}

absl::Status RelayLoop::Flush(Up& up) {
  size_t written = 0;
  while (written < up.out.size()) {
    ASSIGN_OR_RETURN(TlsIo io,
                     up.tls->Write(absl::string_view(up.out).substr(written)));
    if (io.bytes == 0) break;
    written += io.bytes;
  }
  up.out.erase(0, written);
  return absl::OkStatus();
}

}  // namespace mayfly::kafka
