// FakeHttpsServer: see fake_https_server.h.
#include "identity/server/upstream/testing/fake_https_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/keys.h"
#include "identity/pem.h"

namespace mayfly::server::upstream::testing {

std::string HttpResponse(int status, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status,
                      " X\r\nContent-Type: application/json\r\n"
                      "Content-Length: ",
                      body.size(), "\r\nConnection: close\r\n\r\n", body);
}

absl::StatusOr<std::unique_ptr<FakeHttpsServer>> FakeHttpsServer::Start(
    const std::string& chain_pem, const std::string& key_pem, Handler handler) {
  // A client that gave up makes the reply's write fail, not kill the test.
  signal(SIGPIPE, SIG_IGN);
  UniqueSslCtx ctx(SSL_CTX_new(TLS_server_method()));
  auto chain = identity::CertsFromPem(chain_pem);
  auto key = identity::PrivateKeyFromPem(key_pem);
  if (ctx == nullptr || !chain.ok() || !key.ok() || chain->empty()) {
    return absl::InternalError("fake server: bad TLS material");
  }
  SSL_CTX_use_certificate(ctx.get(), (*chain)[0].get());  // takes a ref
  for (size_t i = 1; i < chain->size(); ++i) {
    SSL_CTX_add1_chain_cert(ctx.get(), (*chain)[i].get());  // takes a ref
  }
  SSL_CTX_use_PrivateKey(ctx.get(), key->get());  // takes a ref
  identity::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!fd.valid() ||
      bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd.get(), 8) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError("fake server: cannot listen");
  }
  std::unique_ptr<FakeHttpsServer> s(new FakeHttpsServer(
      std::move(ctx), std::move(fd), ntohs(addr.sin_port), std::move(handler)));
  s->thread_ = std::thread([p = s.get()] { p->Serve(); });
  return s;
}

FakeHttpsServer::~FakeHttpsServer() {
  stop_ = true;
  thread_.join();
}

void FakeHttpsServer::Serve() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    identity::UniqueFd conn(
        accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    timeval tv{5, 0};  // a test's client never takes longer
    setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    UniqueSsl ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), conn.get());  // `conn` keeps the fd
    if (SSL_accept(ssl.get()) != 1) continue;
    std::string request;
    char buf[4096];
    for (;;) {
      const size_t head_end = request.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t content_length = 0;
        const size_t cl = request.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) {
          (void)absl::SimpleAtoi(
              request.substr(cl + 16, request.find("\r\n", cl) - cl - 16),
              &content_length);
        }
        if (request.size() >= head_end + 4 + content_length) break;
      }
      const int n = SSL_read(ssl.get(), buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    const std::string response = handler_(request);
    for (size_t sent = 0; sent < response.size();) {
      const int n = SSL_write(ssl.get(), response.data() + sent,
                              static_cast<int>(response.size() - sent));
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    SSL_shutdown(ssl.get());
  }
}

}  // namespace mayfly::server::upstream::testing
