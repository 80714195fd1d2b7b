// The loopback Prometheus endpoint: see metrics_server.h.
#include "identity/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mayfly::metrics {
namespace {

// A scrape request is a few hundred bytes; anything bigger is not one.
constexpr size_t kMaxRequestBytes = 8192;
constexpr int kRequestTimeoutMs = 2000;

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string PrometheusMetric(const std::string& name, const std::string& type,
                             const std::string& help, double value) {
  return absl::StrFormat("# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help,
                         name, type, name, value);
}

double TimestampSeconds(absl::Time t) {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return 0;
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

absl::StatusOr<sockaddr_in> ParseLoopbackAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": want HOST:PORT"));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) !=
          1 ||
      (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address \"", address, "\": must be a 127.x.x.x address"));
  }
  return addr;
}

absl::Status CheckMetricsAddress(const std::string& address) {
  if (address.empty() || ParseLoopbackAddress(address).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "want 127.x.x.x:PORT (metrics are served on loopback only)");
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, Render render) {
  absl::StatusOr<sockaddr_in> parsed = ParseLoopbackAddress(address);
  if (!parsed.ok()) return parsed.status();
  sockaddr_in addr = *parsed;
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(render)));
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t len = sizeof(addr);
  if (server->listen_fd_ < 0 ||
      bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr),
           sizeof(addr)) != 0 ||
      listen(server->listen_fd_, 16) != 0 ||
      getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr),
                  &len) != 0) {
    return absl::UnavailableError(absl::StrCat("metrics: listen on ", address,
                                               ": ", std::strerror(errno)));
  }
  server->port_ = ntohs(addr.sin_port);
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

MetricsServer::~MetricsServer() {
  const uint64_t one = 1;
  if (stop_fd_ >= 0 && write(stop_fd_, &one, sizeof(one)) < 0) {
    // The thread then runs until the process exits; nothing else to do.
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void MetricsServer::Loop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    Serve(conn);
    close(conn);
  }
}

void MetricsServer::Serve(int conn) {
  std::string request;
  char buf[1024];
  while (request.size() < kMaxRequestBytes &&
         !absl::StrContains(request, "\r\n\r\n")) {
    pollfd p{conn, POLLIN, 0};
    if (poll(&p, 1, kRequestTimeoutMs) <= 0) return;
    const ssize_t n = recv(conn, buf, sizeof(buf), 0);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  std::string status = "404 Not Found", type = "text/plain",
              body = "not found\n";
  if (absl::StartsWith(request, "GET /metrics ") ||
      absl::StartsWith(request, "GET /metrics?")) {
    status = "200 OK";
    type = "text/plain; version=0.0.4";
    body = render_();
  }
  WriteAll(conn, absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                              "\r\nContent-Length: ", body.size(),
                              "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace mayfly::metrics
