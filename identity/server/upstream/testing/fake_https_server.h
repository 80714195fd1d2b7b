// A TLS server on 127.0.0.1 (kernel-chosen port) for the HTTPS client's
// tests: it answers each connection with what `handler` returns for the
// raw request, byte for byte, so tests can send malformed responses too.
// One connection at a time, on its own thread; the destructor stops it.
#ifndef MAYFLY_IDENTITY_SERVER_UPSTREAM_TESTING_FAKE_HTTPS_SERVER_H_
#define MAYFLY_IDENTITY_SERVER_UPSTREAM_TESTING_FAKE_HTTPS_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "identity/server/upstream/https_client.h"
#include "identity/unique_fd.h"

namespace mayfly::server::upstream::testing {

class FakeHttpsServer {
 public:
  // Gets the raw request (headers and Content-Length body); returns the raw
  // response. Runs on the server's thread.
  using Handler = std::function<std::string(const std::string& request)>;

  // `chain_pem` and `key_pem`: the server's certificate chain and key.
  static absl::StatusOr<std::unique_ptr<FakeHttpsServer>> Start(
      const std::string& chain_pem, const std::string& key_pem,
      Handler handler);
  ~FakeHttpsServer();

  uint16_t port() const { return port_; }

 private:
  FakeHttpsServer(UniqueSslCtx ctx, identity::UniqueFd listener, uint16_t port,
                  Handler handler)
      : ctx_(std::move(ctx)),
        listener_(std::move(listener)),
        port_(port),
        handler_(std::move(handler)) {}
  void Serve();

  UniqueSslCtx ctx_;
  identity::UniqueFd listener_;
  const uint16_t port_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// An HTTP/1.1 response with Content-Length.
std::string HttpResponse(int status, const std::string& body);

}  // namespace mayfly::server::upstream::testing

#endif  // MAYFLY_IDENTITY_SERVER_UPSTREAM_TESTING_FAKE_HTTPS_SERVER_H_
