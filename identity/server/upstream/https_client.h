// A small HTTPS/1.1 client for one upstream CA's JSON API.
//
// One request per connection ("Connection: close"), the server's certificate
// checked against the roots the operator gave (never the system's) and
// against the URL's host (a DNS name or an IP address), TLS 1.2 or newer.
// Everything the peer can make us hold is bounded: the whole response
// (status line, headers and body) is at most `max_response_bytes`, and the
// whole exchange, connect included, must end within `timeout` (measured on
// the Clock's monotonic reading). Name resolution (getaddrinfo) is bounded
// by the system resolver's own timeouts, not by `timeout`.
//
// Thread-safe: Do() may be called concurrently; each call has its own
// connection.
#ifndef MAYFLY_IDENTITY_SERVER_UPSTREAM_HTTPS_CLIENT_H_
#define MAYFLY_IDENTITY_SERVER_UPSTREAM_HTTPS_CLIENT_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"

namespace mayfly::server::upstream {

using UniqueSslCtx = identity::OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using UniqueSsl = identity::OpenSslPtr<SSL, SSL_free>;

// A CA's answer is a few certificates in JSON: a few KiB. 1 MiB leaves room
// for long chains and many roots, and bounds what a broken or hostile peer
// can make the server buffer.
inline constexpr size_t kDefaultMaxResponseBytes = 1 << 20;
// Long enough for a CA on another continent, short enough that a hung CA
// does not hold the server's maintenance loop.
inline constexpr absl::Duration kDefaultHttpsTimeout = absl::Seconds(10);

// https://HOST[:PORT] with nothing after it but an optional "/".
struct HttpsUrl {
  std::string host;  // a DNS name or an IP address (IPv6 without brackets)
  uint16_t port = 443;
  // "https://HOST:PORT" as the server's own audiences spell it.
  std::string Origin() const;
};
// InvalidArgument naming what is wrong.
absl::StatusOr<HttpsUrl> ParseHttpsUrl(absl::string_view url);

struct HttpsResponse {
  int status = 0;
  std::string body;
};

struct HttpsClientOptions {
  size_t max_response_bytes = kDefaultMaxResponseBytes;
  absl::Duration timeout = kDefaultHttpsTimeout;
};

class HttpsClient {
 public:
  // `roots_pem`: the certificates that may certify the server (at least
  // one). InvalidArgument if there is none.
  static absl::StatusOr<std::unique_ptr<HttpsClient>> Create(
      HttpsUrl url, absl::string_view roots_pem,
      const HttpsClientOptions& options, const identity::Clock& clock);

  // Sends METHOD PATH with `body` (JSON when not empty). Unavailable when
  // the server cannot be reached or the exchange breaks off,
  // DeadlineExceeded past the timeout, PermissionDenied when its
  // certificate does not verify, InvalidArgument for a malformed or
  // oversized response. Any HTTP status is returned as it came.
  absl::StatusOr<HttpsResponse> Do(absl::string_view method,
                                   absl::string_view path,
                                   absl::string_view body) const;

  const HttpsUrl& url() const { return url_; }

 private:
  HttpsClient(HttpsUrl url, UniqueSslCtx ctx, HttpsClientOptions options,
              const identity::Clock& clock)
      : url_(std::move(url)),
        ctx_(std::move(ctx)),
        options_(options),
        clock_(clock) {}

  const HttpsUrl url_;
  const UniqueSslCtx ctx_;  // SSL_CTX is safe to share once configured
  const HttpsClientOptions options_;
  const identity::Clock& clock_;
};

// Parses a complete HTTP/1.x response (exposed for tests): status line,
// headers, then a body framed by Content-Length, chunked transfer coding, or
// the end of the stream. InvalidArgument naming what is malformed.
absl::StatusOr<HttpsResponse> ParseHttpResponse(absl::string_view raw);

}  // namespace mayfly::server::upstream

#endif  // MAYFLY_IDENTITY_SERVER_UPSTREAM_HTTPS_CLIENT_H_
