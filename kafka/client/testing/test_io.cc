// Loopback sockets and bounded TLS I/O for tests: see test_io.h.
#include "kafka/client/testing/test_io.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mayfly::kafka::test_io {
namespace {

using identity::UniqueFd;

// Pending connections the kernel may queue before accept().
constexpr int kListenBacklog = 16;
// Reads or writes of one helper call; each moves bytes or waits for them.
constexpr int kMaxRounds = 1000;

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

// Waits for what the last TlsIo asked for.
absl::Status Await(const TlsUpstream& up, bool want_write) {
  pollfd p{up.fd(), static_cast<short>(want_write ? POLLOUT : POLLIN), 0};
  if (poll(&p, 1, kIoTimeoutMs) != 1) return absl::DeadlineExceededError("");
  return absl::OkStatus();
}

// Reads until `n` bytes (or any amount when `n` is 0) and end of stream.
absl::StatusOr<std::string> Read(TlsUpstream& up, size_t n, bool to_eof) {
  std::string out;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (!to_eof && out.size() == n) return out;
    char buf[256];
    const size_t want =
        to_eof ? sizeof buf : std::min(sizeof buf, n - out.size());
    absl::StatusOr<TlsIo> io = up.Read(buf, want);
    if (!io.ok()) return io.status();
    if (io->eof) {
      if (to_eof) return out;
      return absl::FailedPreconditionError(
          absl::StrCat("end of stream after ", out.size(), " bytes"));
    }
    out.append(buf, io->bytes);
    if (io->bytes == 0) {
      absl::Status ready = Await(up, io->want_write);
      if (!ready.ok()) return ready;
    }
  }
  return absl::InternalError("no end of stream");
}

}  // namespace

absl::StatusOr<Listener> ListenLoopback() {
  Listener out;
  out.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out.fd.valid()) return Errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // the kernel chooses
  socklen_t len = sizeof addr;
  if (bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return Errno("bind 127.0.0.1:0");
  }
  if (listen(out.fd.get(), kListenBacklog) != 0) return Errno("listen");
  if (getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) !=
      0) {
    return Errno("getsockname");
  }
  out.port = ntohs(addr.sin_port);
  out.address = absl::StrCat("127.0.0.1:", out.port);
  return out;
}

absl::StatusOr<UniqueFd> ConnectTcp(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(address, ": not host:port"));
  }
  const std::string host(address.substr(0, colon));
  const std::string port(address.substr(colon + 1));
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::UnavailableError(absl::StrCat(address, ": no address"));
  }
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int rc =
      fd.valid() ? connect(fd.get(), found->ai_addr, found->ai_addrlen) : -1;
  freeaddrinfo(found);
  if (rc != 0) return Errno(absl::StrCat("connect ", address));
  return fd;
}

absl::Status WriteAll(TlsUpstream& up, absl::string_view data) {
  for (int round = 0; round < kMaxRounds && !data.empty(); ++round) {
    absl::StatusOr<TlsIo> io = up.Write(data);
    if (!io.ok()) return io.status();
    data.remove_prefix(io->bytes);
    if (io->bytes == 0) {
      absl::Status ready = Await(up, !io->want_read);
      if (!ready.ok()) return ready;
    }
  }
  return data.empty() ? absl::OkStatus() : absl::InternalError("stuck");
}

absl::StatusOr<std::string> ReadExactly(TlsUpstream& up, size_t n) {
  return Read(up, n, /*to_eof=*/false);
}

absl::StatusOr<std::string> ReadToEof(TlsUpstream& up) {
  return Read(up, 0, /*to_eof=*/true);
}

}  // namespace mayfly::kafka::test_io
