// TCP connect, TLS handshake and probe of one upstream: see upstream_open.h.
#include "kafka/client/upstream_open.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"
#include "kafka/client/internal/frame.h"

namespace mayfly::kafka {
namespace {

constexpr int16_t kApiVersionsKey = 18;
constexpr absl::string_view kProbeClientId = "mayfly-relay";
// An ApiVersions v0 answer lists some 60 APIs at 6 bytes each; anything
// near this is not an answer to the probe.
constexpr int32_t kMaxProbeResponse = 64 * 1024;

void PutInt16(std::string& out, int16_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void PutInt32(std::string& out, int32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

int32_t GetInt32(absl::string_view data) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data[i]);
  return static_cast<int32_t>(v);
}

// Waits until `fd` is ready for `events`, `cancel_fd` is readable, or the
// monotonic `deadline` passes.
absl::Status Wait(int fd, short events, int cancel_fd, absl::Duration deadline,
                  const identity::Clock& clock, absl::string_view what,
                  absl::string_view name) {
  const absl::Duration left = deadline - clock.Monotonic();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat("broker ", name, ": ", what, " timed out"));
  }
  const int timeout_ms = static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1,
      INT_MAX));
  pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
  const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, timeout_ms);
  if (n < 0 && errno != EINTR) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", name, ": poll during ", what, ": ", std::strerror(errno)));
  }
  if (cancel_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
    return absl::UnavailableError(
        absl::StrCat("broker ", name, ": ", what, " cancelled"));
  }
  return absl::OkStatus();
}

absl::StatusOr<identity::UniqueFd> ConnectTcp(const BrokerTarget& target,
                                              int cancel_fd,
                                              absl::Duration deadline,
                                              const identity::Clock& clock) {
  identity::UniqueFd fd(::socket(target.addr.ss_family,
                                 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                 IPPROTO_TCP));
  if (fd.get() < 0) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", target.name, ": socket: ", std::strerror(errno)));
  }
  // librdkafka's socket.nagle.disable is forced off for the socketpair
  // (TCP_NODELAY fails there); the relay sets it on the real socket, which
  // is where librdkafka's default (since 1.x: true) matters.
  const int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.addr),
                target.addr_len) != 0 &&
      errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", target.name, ": connect: ", std::strerror(errno)));
  }
  for (;;) {
    RETURN_IF_ERROR(Wait(fd.get(), POLLOUT, cancel_fd, deadline, clock,
                         "TCP connect", target.name));
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, 0) > 0) break;
  }
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
    error = errno;
  }
  if (error != 0) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", target.name, ": connect: ", std::strerror(error)));
  }
  return fd;
}

absl::Status WriteAll(TlsUpstream& up, absl::string_view data, int cancel_fd,
                      absl::Duration deadline, const identity::Clock& clock) {
  while (!data.empty()) {
    ASSIGN_OR_RETURN(TlsIo io, up.Write(data));
    data.remove_prefix(io.bytes);
    if (io.bytes == 0) {
      RETURN_IF_ERROR(Wait(up.fd(), io.want_read ? POLLIN : POLLOUT, cancel_fd,
                           deadline, clock, "probe request", up.address()));
    }
  }
  return absl::OkStatus();
}

// Reads exactly `size` bytes into `out`. kUnauthenticated at end of stream:
// the broker hung up on the probe.
absl::Status ReadExact(TlsUpstream& up, size_t size, std::string& out,
                       int cancel_fd, absl::Duration deadline,
                       const identity::Clock& clock) {
  out.resize(size);
  size_t got = 0;
  while (got < size) {
    absl::StatusOr<TlsIo> io = up.Read(out.data() + got, size - got);
    // Over TLS 1.3 a broker that refuses our certificate does so after our
    // handshake has finished: an alert or a close on the first read.
    if (!io.ok() || io->eof) {
      return absl::UnauthenticatedError(absl::StrCat(
          "broker ", up.address(), " (", up.broker_id().ToString(),
          ") ended the connection on the first request",
          io.ok() ? "" : absl::StrCat(" (", io.status().message(), ")"),
          ": it refused the X.509-SVID for ", up.svid()->id.ToString()));
    }
    got += io->bytes;
    if (io->bytes == 0) {
      RETURN_IF_ERROR(Wait(up.fd(), io->want_write ? POLLOUT : POLLIN,
                           cancel_fd, deadline, clock, "probe response",
                           up.address()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string ProbeRequest() {
  std::string body;
  PutInt16(body, kApiVersionsKey);
  PutInt16(body, 0);
  PutInt32(body, kProbeCorrelationId);
  PutInt16(body, static_cast<int16_t>(kProbeClientId.size()));
  body.append(kProbeClientId.data(), kProbeClientId.size());
  std::string frame;
  PutInt32(frame, static_cast<int32_t>(body.size()));
  return frame + body;
}

absl::Status CheckProbeResponse(absl::string_view frame) {
  if (frame.size() < 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an ApiVersions answer of ", frame.size(), " bytes is too short"));
  }
  const int32_t correlation_id = GetInt32(frame);
  if (correlation_id != kProbeCorrelationId) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ApiVersions answer has correlation id ",
                     correlation_id, ", not the probe's"));
  }
  const int16_t error = static_cast<int16_t>(
      (static_cast<uint8_t>(frame[4]) << 8) | static_cast<uint8_t>(frame[5]));
  if (error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ApiVersions answer carries Kafka error ", error));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsUpstream>> OpenUpstream(
    const BrokerTarget& target, std::shared_ptr<const TlsClientContext> context,
    const identity::workload::X509SvidSource& source,
    const identity::Clock& clock, const BrokerIdPolicy& policy,
    absl::Duration timeout, int cancel_fd, UpstreamFailure* failure) {
  *failure = UpstreamFailure::kNone;
  if (context != nullptr && clock.Now() >= context->svid()->not_after) {
    *failure = UpstreamFailure::kNoSvid;
    return absl::UnavailableError(absl::StrCat(
        "broker ", target.name, ": the X.509-SVID for ",
        context->svid()->id.ToString(), " has expired and no newer one came"));
  }
  *failure = UpstreamFailure::kNetwork;
  const absl::Duration deadline = clock.Monotonic() + timeout;
  ASSIGN_OR_RETURN(identity::UniqueFd fd,
                   ConnectTcp(target, cancel_fd, deadline, clock));
  TlsUpstreamOptions options;
  options.broker_policy = policy;
  options.handshake_timeout =
      std::max(deadline - clock.Monotonic(), absl::Milliseconds(1));
  absl::StatusOr<std::unique_ptr<TlsUpstream>> up = TlsUpstream::Connect(
      std::move(fd), target.name, std::move(context), source, clock, options);
  if (!up.ok()) {
    if (absl::IsPermissionDenied(up.status()) ||
        absl::IsUnauthenticated(up.status())) {
      *failure = UpstreamFailure::kPeerRejected;
    }
    return up.status();
  }
  RETURN_IF_ERROR(WriteAll(**up, ProbeRequest(), cancel_fd, deadline, clock));
  std::string size_field;
  absl::Status read = ReadExact(**up, internal::kSizeFieldBytes, size_field,
                                cancel_fd, deadline, clock);
  if (absl::IsUnauthenticated(read)) *failure = UpstreamFailure::kSvidRefused;
  RETURN_IF_ERROR(read);
  const int32_t size = GetInt32(size_field);
  if (size < 6 || size > kMaxProbeResponse) {
    return absl::UnavailableError(
        absl::StrCat("broker ", target.name, ": the answer to the probe ",
                     "request has size ", size, "; not a Kafka broker?"));
  }
  std::string frame;
  RETURN_IF_ERROR(ReadExact(**up, static_cast<size_t>(size), frame, cancel_fd,
                            deadline, clock));
  if (absl::Status status = CheckProbeResponse(frame); !status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", target.name, ": probe request: ", status.message()));
  }
  *failure = UpstreamFailure::kNone;
  return up;
}

}  // namespace mayfly::kafka
