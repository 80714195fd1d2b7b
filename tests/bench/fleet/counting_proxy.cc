// CountingProxy: see counting_proxy.h.
#include "tests/bench/fleet/counting_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace mayfly::bench {
namespace {

// How often the accept loop looks at stopping_.
constexpr int kAcceptPollMs = 200;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CountingProxy>> CountingProxy::Start(
    int target_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: errno ", errno));
  }
  std::unique_ptr<CountingProxy> proxy(
      new CountingProxy(fd, ntohs(addr.sin_port), target_port));
  proxy->accept_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

CountingProxy::~CountingProxy() {
  stopping_ = true;
  accept_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Unblocks the pumps' reads; they exit on the 0 or error they get.
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  for (int fd : fds_) close(fd);
  close(listen_fd_);
}

void CountingProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kAcceptPollMs) <= 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&target),
                              sizeof(target)) != 0) {
      close(client);
      if (server >= 0) close(server);
      continue;
    }
    const int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(client);
    fds_.push_back(server);
    threads_.emplace_back(
        [this, client, server] { Pump(client, server, up_); });
    threads_.emplace_back(
        [this, client, server] { Pump(server, client, down_); });
  }
}

void CountingProxy::Pump(int from, int to, std::atomic<uint64_t>& counter) {
  char buf[16384];
  for (;;) {
    const ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) break;
    ssize_t off = 0;
    while (off < n) {
      const ssize_t w = write(to, buf + off, n - off);
      if (w <= 0) break;
      off += w;
    }
    if (off < n) break;
    counter += static_cast<uint64_t>(n);
  }
  // The other direction sees EOF too; the destructor closes the fds.
  shutdown(to, SHUT_WR);
}

}  // namespace mayfly::bench
