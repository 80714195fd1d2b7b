// HttpsClient: see https_client.h.
#include "identity/server/upstream/https_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"

namespace mayfly::server::upstream {
namespace {

using identity::UniqueFd;

// Header lines are short; a longer one means the peer is not an HTTP server
// we want to talk to.
constexpr size_t kMaxHeaderLineBytes = 8192;

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Waits until `fd` is ready for `events` or `deadline` (monotonic) passes.
absl::Status WaitFd(int fd, short events, absl::Duration deadline,
                    const identity::Clock& clock) {
  for (;;) {
    const absl::Duration left = deadline - clock.Monotonic();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          "the upstream CA did not answer in time");
    }
    pollfd p{fd, events, 0};
    const int ms =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
    const int n = poll(&p, 1, ms);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
    }
  }
}

absl::StatusOr<UniqueFd> Connect(const HttpsUrl& url, absl::Duration deadline,
                                 const identity::Clock& clock) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = absl::StrCat(url.port);
  if (int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolving ", url.host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, freeaddrinfo);
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family,
                       ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol));
    if (!fd.valid()) continue;
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = absl::UnavailableError(absl::StrCat(
            "connecting to ", url.Origin(), ": ", strerror(errno)));
        continue;
      }
      RETURN_IF_ERROR(WaitFd(fd.get(), POLLOUT, deadline, clock));
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = absl::UnavailableError(
            absl::StrCat("connecting to ", url.Origin(), ": ", strerror(err)));
        continue;
      }
    }
    return fd;
  }
  return last;
}

// Runs one SSL_* call to completion on a non-blocking socket. Returns its
// positive result, 0 for a closed stream (reads only), or an error.
template <typename F>
absl::StatusOr<int> SslCall(SSL* ssl, int fd, F call, absl::Duration deadline,
                            const identity::Clock& clock,
                            absl::string_view what) {
  for (;;) {
    ERR_clear_error();
    const int rc = call();
    if (rc > 0) return rc;
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
      RETURN_IF_ERROR(WaitFd(fd, POLLIN, deadline, clock));
    } else if (err == SSL_ERROR_WANT_WRITE) {
      RETURN_IF_ERROR(WaitFd(fd, POLLOUT, deadline, clock));
    } else if (err == SSL_ERROR_ZERO_RETURN) {
      return 0;
    } else {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return absl::PermissionDeniedError(
            absl::StrCat("the upstream CA's TLS certificate does not verify: ",
                         X509_verify_cert_error_string(verify)));
      }
      return absl::UnavailableError(absl::StrCat(
          what,
          " with the upstream CA failed: ", identity::DrainOpenSslErrors()));
    }
  }
}

// A peer that closes early makes write(2) raise SIGPIPE, which would kill
// the whole server: blocked on this thread for the exchange, and a pending
// one consumed before the mask is restored (the usual pattern for a library
// that cannot own the process's signal dispositions).
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
};

absl::StatusOr<std::string> DecodeChunked(absl::string_view in) {
  std::string out;
  for (;;) {
    const size_t eol = in.find("\r\n");
    if (eol == absl::string_view::npos) {
      return absl::InvalidArgumentError("truncated chunk size line");
    }
    absl::string_view size_text = in.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));  // extensions
    uint64_t size = 0;
    if (size_text.empty() || size_text.size() > 16 ||
        !absl::SimpleHexAtoi(size_text, &size)) {
      return absl::InvalidArgumentError("bad chunk size");
    }
    in.remove_prefix(eol + 2);
    if (size == 0) return out;  // trailers, if any, are ignored
    if (in.size() < size + 2 || in.substr(size, 2) != "\r\n") {
      return absl::InvalidArgumentError("truncated chunk");
    }
    out.append(in.data(), size);
    in.remove_prefix(size + 2);
  }
}

}  // namespace

std::string HttpsUrl::Origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("https://", v6 ? "[" : "", host, v6 ? "]" : "", ":",
                      port);
}

absl::StatusOr<HttpsUrl> ParseHttpsUrl(absl::string_view url) {
  const absl::string_view original = url;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", original, "\" is not https://HOST[:PORT]: ", why));
  };
  if (!absl::ConsumePrefix(&url, "https://")) return bad("not https");
  absl::ConsumeSuffix(&url, "/");
  if (url.find_first_of("/?#@") != absl::string_view::npos) {
    return bad("no path, query or user info");
  }
  HttpsUrl out;
  absl::string_view port;
  if (absl::ConsumePrefix(&url, "[")) {
    const size_t close = url.find(']');
    if (close == absl::string_view::npos) return bad("unclosed [");
    out.host = std::string(url.substr(0, close));
    url.remove_prefix(close + 1);
    if (!url.empty() && !absl::ConsumePrefix(&url, ":")) return bad("after ]");
    port = url;
  } else {
    const size_t colon = url.rfind(':');
    out.host = std::string(url.substr(0, colon));
    if (colon != absl::string_view::npos) port = url.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (!port.empty()) {
    uint32_t p = 0;
    if (!absl::SimpleAtoi(port, &p) || p == 0 || p > 65535) {
      return bad("bad port");
    }
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

absl::StatusOr<HttpsResponse> ParseHttpResponse(absl::string_view raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == absl::string_view::npos) {
    return absl::InvalidArgumentError("the response has no end of headers");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(raw.substr(0, head_end), "\r\n");
  absl::string_view status_line = lines[0];
  HttpsResponse out;
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      status_line[8] != ' ' ||
      !absl::SimpleAtoi(status_line.substr(9, 3), &out.status) ||
      out.status < 100 || out.status > 599) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad HTTP status line \"",
                     absl::CEscape(status_line.substr(0, 64)), "\""));
  }
  bool chunked = false;
  int64_t content_length = -1;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].size() > kMaxHeaderLineBytes) {
      return absl::InvalidArgumentError("an HTTP header line is too long");
    }
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("an HTTP header line has no ':'");
    }
    const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    const absl::string_view value =
        absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (name == "transfer-encoding") {
      if (!absl::EqualsIgnoreCase(value, "chunked")) {
        return absl::InvalidArgumentError(
            "unsupported Transfer-Encoding (only chunked)");
      }
      chunked = true;
    } else if (name == "content-length") {
      if (!absl::SimpleAtoi(value, &content_length) || content_length < 0) {
        return absl::InvalidArgumentError("bad Content-Length");
      }
    }
  }
  absl::string_view body = raw.substr(head_end + 4);
  if (chunked) {
    ASSIGN_OR_RETURN(out.body, DecodeChunked(body));
  } else if (content_length >= 0) {
    if (body.size() < static_cast<uint64_t>(content_length)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the body is shorter than its Content-Length (",
                       body.size(), " < ", content_length, ")"));
    }
    out.body = std::string(body.substr(0, content_length));
  } else {
    out.body = std::string(body);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<HttpsClient>> HttpsClient::Create(
    HttpsUrl url, absl::string_view roots_pem,
    const HttpsClientOptions& options, const identity::Clock& clock) {
  ASSIGN_OR_RETURN(identity::CertChain roots,
                   identity::CertsFromPem(roots_pem));
  if (roots.empty()) {
    return absl::InvalidArgumentError("no root certificate to verify TLS with");
  }
  UniqueSslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return identity::OpenSslError("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // A peer that drops the connection without close_notify reads as the end
  // of the stream; ParseHttpResponse catches a body cut short of its
  // Content-Length or last chunk.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Only the operator's roots, never the system's store.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());  // borrowed
  for (const identity::UniqueX509& root : roots) {
    // X509_STORE_add_cert takes its own reference.
    if (X509_STORE_add_cert(store, root.get()) != 1) {
      return identity::OpenSslError("adding a root to the TLS store");
    }
  }
  return std::unique_ptr<HttpsClient>(
      new HttpsClient(std::move(url), std::move(ctx), options, clock));
}

absl::StatusOr<HttpsResponse> HttpsClient::Do(absl::string_view method,
                                              absl::string_view path,
                                              absl::string_view body) const {
  const absl::Duration deadline = clock_.Monotonic() + options_.timeout;
  SigpipeBlock no_sigpipe;
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(url_, deadline, clock_));
  UniqueSsl ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr) return identity::OpenSslError("SSL_new");
  // The fd stays owned by `fd` (BIO_NOCLOSE is SSL_set_fd's default).
  SSL_set_fd(ssl.get(), fd.get());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());  // borrowed
  if (IsIpLiteral(url_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), url_.host.c_str());
  }
  SSL* s = ssl.get();
  ASSIGN_OR_RETURN(int unused_rc,
                   SslCall(
                       s, fd.get(), [s] { return SSL_connect(s); }, deadline,
                       clock_, "the TLS handshake"));
  (void)unused_rc;

  std::string request = absl::StrCat(
      method, " ", path, " HTTP/1.1\r\nHost: ", url_.Origin().substr(8),
      "\r\nUser-Agent: mayfly-server\r\n"
      "Accept: application/json\r\n"
      "Connection: close\r\n");
  if (!body.empty()) {
    absl::StrAppend(&request, "Content-Type: application/json\r\n",
                    "Content-Length: ", body.size(), "\r\n");
  }
  absl::StrAppend(&request, "\r\n", body);
  for (size_t sent = 0; sent < request.size();) {
    const char* p = request.data() + sent;
    const int n =
        static_cast<int>(std::min<size_t>(request.size() - sent, 1 << 20));
    ASSIGN_OR_RETURN(int wrote,
                     SslCall(
                         s, fd.get(), [s, p, n] { return SSL_write(s, p, n); },
                         deadline, clock_, "sending the request"));
    sent += static_cast<size_t>(wrote);
  }

  std::string raw;
  char buf[16384];
  for (;;) {
    ASSIGN_OR_RETURN(
        int got,
        SslCall(
            s, fd.get(), [s, &buf] { return SSL_read(s, buf, sizeof(buf)); },
            deadline, clock_, "reading the response"));
    if (got == 0) break;
    raw.append(buf, static_cast<size_t>(got));
    if (raw.size() > options_.max_response_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("the upstream CA's response exceeds ",
                       options_.max_response_bytes, " bytes"));
    }
  }
  return ParseHttpResponse(raw);
}

}  // namespace mayfly::server::upstream
