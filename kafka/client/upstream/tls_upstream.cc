// The TLS client leg of a relayed connection: see tls_upstream.h.
#include "kafka/client/upstream/tls_upstream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::kafka {
namespace {

// A handshake is a handful of flights; each round either moves bytes or
// waits for the socket. The cap only guards against a peer that trickles
// bytes forever under a clock whose Monotonic() does not move (FakeClock).
constexpr int kMaxHandshakeRounds = 10000;

// What the verify callback needs for one handshake; lives on Connect's
// stack and reaches the callback through SSL_set_app_data.
struct HandshakeState {
  const BrokerIdPolicy* policy = nullptr;
  const identity::X509Svid* svid = nullptr;
  const identity::workload::X509SvidSource* source = nullptr;
  const identity::Clock* clock = nullptr;
  bool checked = false;
  absl::Status status;
  std::optional<identity::SpiffeId> broker_id;
};

// Replaces OpenSSL's chain verification (SSL_CTX_set_cert_verify_callback)
// with broker_verifier.h: SPIFFE rules, several roots, no hostname.
int VerifyPeerChain(X509_STORE_CTX* store, void* /*arg*/) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* state = ssl == nullptr
                    ? nullptr
                    : static_cast<HandshakeState*>(SSL_get_app_data(ssl));
  if (state == nullptr) {
    // A handshake that TlsUpstream::Connect did not start: refuse.
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  // The peer's chain as sent: OpenSSL puts the leaf first in `untrusted`
  // too, so it is skipped there.
  identity::CertChain chain;
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  if (leaf != nullptr) chain.push_back(identity::ShareCert(leaf));
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store);
  for (int i = 0; sent != nullptr && i < sk_X509_num(sent); ++i) {
    X509* cert = sk_X509_value(sent, i);
    if (cert != leaf) chain.push_back(identity::ShareCert(cert));
  }
  absl::StatusOr<identity::SpiffeId> id =
      VerifyBroker(chain, *state->policy, *state->source, state->clock->Now());
  state->checked = true;
  if (!id.ok()) {
    state->status = id.status();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  state->broker_id = *std::move(id);
  return 1;
}

// A socket BIO whose writes cannot raise SIGPIPE. OpenSSL's own socket BIO
// write()s, and a broker that has closed its end would kill the
// application's process: a library must not rely on SIGPIPE being ignored.
// Reads, control and cleanup are the socket BIO's own, so the fd is kept
// where they expect it.
int SendNoSignal(BIO* bio, const char* data, int size) {
  int fd = -1;
  BIO_get_fd(bio, &fd);
  BIO_clear_retry_flags(bio);
  const ssize_t sent =
      ::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(sent);
}

const BIO_METHOD* NoSignalSocketMethod() {
  // Built once, never freed: OpenSSL keeps a pointer in every BIO made
  // from it. Null if OpenSSL is out of memory.
  static const BIO_METHOD* const method = [] {
    const BIO_METHOD* socket = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(
        BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
        "mayfly socket without SIGPIPE");
    if (m == nullptr || BIO_meth_set_write(m, SendNoSignal) != 1 ||
        BIO_meth_set_read(m, BIO_meth_get_read(socket)) != 1 ||
        BIO_meth_set_puts(m, BIO_meth_get_puts(socket)) != 1 ||
        BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(socket)) != 1 ||
        BIO_meth_set_create(m, BIO_meth_get_create(socket)) != 1 ||
        BIO_meth_set_destroy(m, BIO_meth_get_destroy(socket)) != 1) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

absl::Status Prefixed(absl::string_view address, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("broker ", address, ": ", status.message()));
}

absl::Status SslFailure(absl::string_view address, absl::string_view what,
                        int ssl_error) {
  const int saved_errno = errno;
  std::string detail = identity::DrainOpenSslErrors();
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) {
    detail = absl::StrCat(std::strerror(saved_errno), " (", detail, ")");
  }
  return absl::UnavailableError(
      absl::StrCat("broker ", address, ": ", what, " failed: ", detail));
}

// Waits until `fd` is ready for `events`, within `deadline` (monotonic;
// InfiniteDuration() for none).
absl::Status WaitFor(int fd, short events, absl::Duration deadline,
                     const identity::Clock& clock, absl::string_view address,
                     absl::Duration timeout) {
  int timeout_ms = -1;
  if (deadline != absl::InfiniteDuration()) {
    const absl::Duration left = deadline - clock.Monotonic();
    timeout_ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 0,
        INT_MAX));
  }
  pollfd p{fd, events, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  if (n < 0 && errno != EINTR) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", address, ": poll failed: ", std::strerror(errno)));
  }
  if (n == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("broker ", address, ": TLS handshake did not finish in ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TlsClientContext>>
TlsClientContext::Create(std::shared_ptr<const identity::X509Svid> svid) {
  if (svid == nullptr || svid->chain.empty() || svid->key == nullptr) {
    return absl::InvalidArgumentError(
        "an X.509-SVID needs a leaf certificate and a key");
  }
  UniqueSslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return identity::OpenSslError("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return identity::OpenSslError("SSL_CTX_set_min_proto_version");
  }
  // use_certificate/use_PrivateKey/add1_chain_cert take their own
  // references; the snapshot keeps its own.
  if (SSL_CTX_use_certificate(ctx.get(), svid->chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), svid->key.get()) != 1) {
    return identity::OpenSslError("loading the X.509-SVID");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key of the X.509-SVID for ", svid->id.ToString(),
        " does not match its leaf: ", identity::DrainOpenSslErrors()));
  }
  for (size_t i = 1; i < svid->chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), svid->chain[i].get()) != 1) {
      return identity::OpenSslError("loading the X.509-SVID's intermediates");
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx.get(), VerifyPeerChain, nullptr);
  // Non-blocking writes of part of a buffer, retried from a buffer that may
  // have moved (the relay's hold buffer grows). RELEASE_BUFFERS: an idle
  // connection gives back OpenSSL's read and write buffers (about 17 KiB
  // each; relay_scale_test measures what an idle connection costs).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  // Brokers may close without close_notify; that is an end of stream, and
  // Kafka's own framing tells a cut response apart.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  return std::shared_ptr<const TlsClientContext>(
      new TlsClientContext(std::move(svid), std::move(ctx)));
}

absl::StatusOr<std::shared_ptr<const TlsClientContext>>
TlsClientContext::FromSource(const identity::workload::X509SvidSource& source) {
  absl::StatusOr<std::shared_ptr<const identity::X509Svid>> svid =
      source.GetX509Svid();
  if (!svid.ok()) {
    return absl::UnavailableError(
        absl::StrCat("no X.509-SVID to present: ", svid.status().message()));
  }
  return Create(*std::move(svid));
}

absl::StatusOr<std::unique_ptr<TlsUpstream>> TlsUpstream::Connect(
    identity::UniqueFd fd, absl::string_view address,
    std::shared_ptr<const TlsClientContext> context,
    const identity::workload::X509SvidSource& source,
    const identity::Clock& clock, const TlsUpstreamOptions& options) {
  if (context == nullptr) {
    return Prefixed(address, absl::InvalidArgumentError("no TLS context"));
  }
  const identity::X509Svid& svid = *context->svid();
  if (clock.Now() >= svid.not_after) {
    return absl::UnavailableError(
        absl::StrCat("broker ", address, ": the X.509-SVID for ",
                     svid.id.ToString(), " expired at ",
                     absl::FormatTime(absl::RFC3339_sec, svid.not_after,
                                      absl::UTCTimeZone()),
                     "; a connection needs the source's current one"));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "broker ", address, ": fcntl(O_NONBLOCK): ", std::strerror(errno)));
  }
  UniqueSsl ssl(SSL_new(context->ssl_ctx()));
  const BIO_METHOD* method = NoSignalSocketMethod();
  identity::UniqueBio bio(method == nullptr ? nullptr : BIO_new(method));
  if (ssl == nullptr || bio == nullptr) {
    return Prefixed(address, identity::OpenSslError("SSL_new"));
  }
  // BIO_NOCLOSE: the fd stays ours (fd_), closed after the SSL is freed.
  BIO_set_fd(bio.get(), fd.get(), BIO_NOCLOSE);
  // set_bio takes the one reference for both directions.
  BIO* const owned_by_ssl = bio.release();
  SSL_set_bio(ssl.get(), owned_by_ssl, owned_by_ssl);
  const std::string sni = SniHostOf(address);
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1) {
    return Prefixed(address, identity::OpenSslError("setting SNI"));
  }
  HandshakeState state;
  state.policy = &options.broker_policy;
  state.svid = &svid;
  state.source = &source;
  state.clock = &clock;
  SSL_set_app_data(ssl.get(), &state);
  const absl::Duration deadline =
      options.handshake_timeout == absl::InfiniteDuration()
          ? absl::InfiniteDuration()
          : clock.Monotonic() + options.handshake_timeout;
  for (int round = 0;; ++round) {
    ERR_clear_error();
    errno = 0;
    const int ret = SSL_connect(ssl.get());
    if (ret == 1) break;
    const int error = SSL_get_error(ssl.get(), ret);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      SSL_set_app_data(ssl.get(), nullptr);
      if (state.checked && !state.status.ok()) {
        ERR_clear_error();
        return Prefixed(address, state.status);
      }
      return SslFailure(address, "TLS handshake", error);
    }
    if (round >= kMaxHandshakeRounds) {
      return absl::DeadlineExceededError(
          absl::StrCat("broker ", address, ": TLS handshake still going after ",
                       kMaxHandshakeRounds, " rounds"));
    }
    RETURN_IF_ERROR(
        WaitFor(fd.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                deadline, clock, address, options.handshake_timeout));
  }
  SSL_set_app_data(ssl.get(), nullptr);
  if (!state.broker_id.has_value()) {
    // SSL_VERIFY_PEER with certificate ciphersuites always calls the
    // callback; this guards against a handshake that skipped it.
    return absl::UnauthenticatedError(absl::StrCat(
        "broker ", address, ": the broker's certificate was never checked"));
  }
  return std::unique_ptr<TlsUpstream>(
      new TlsUpstream(std::move(fd), std::string(address), std::move(context),
                      std::move(ssl), *std::move(state.broker_id)));
}

absl::StatusOr<std::unique_ptr<TlsUpstream>> TlsUpstream::Connect(
    identity::UniqueFd fd, absl::string_view address,
    const identity::workload::X509SvidSource& source,
    const identity::Clock& clock, const TlsUpstreamOptions& options) {
  absl::StatusOr<std::shared_ptr<const TlsClientContext>> context =
      TlsClientContext::FromSource(source);
  if (!context.ok()) return Prefixed(address, context.status());
  return Connect(std::move(fd), address, *std::move(context), source, clock,
                 options);
}

TlsUpstream::~TlsUpstream() = default;

absl::StatusOr<TlsIo> TlsUpstream::Result(int ret, absl::string_view op,
                                          bool writing) {
  TlsIo io;
  if (ret > 0) {
    io.bytes = static_cast<size_t>(ret);
    return io;
  }
  const int error = SSL_get_error(ssl_.get(), ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      io.want_read = true;
      return io;
    case SSL_ERROR_WANT_WRITE:
      io.want_write = true;
      return io;
    case SSL_ERROR_ZERO_RETURN:
      // OpenSSL reports any failure after the broker's close_notify as
      // ZERO_RETURN; for a write that is a failure (errno says which).
      if (writing) return SslFailure(address_, op, SSL_ERROR_SYSCALL);
      io.eof = true;
      return io;
    default:
      return SslFailure(address_, op, error);
  }
}

absl::StatusOr<TlsIo> TlsUpstream::Read(char* out, size_t size) {
  if (size == 0) return TlsIo{};
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_read(ssl_.get(), out,
                           static_cast<int>(std::min<size_t>(size, INT_MAX)));
  return Result(ret, "TLS read", /*writing=*/false);
}

absl::StatusOr<TlsIo> TlsUpstream::Write(absl::string_view data) {
  if (data.empty()) return TlsIo{};
  ERR_clear_error();
  errno = 0;
  const int ret =
      SSL_write(ssl_.get(), data.data(),
                static_cast<int>(std::min<size_t>(data.size(), INT_MAX)));
  return Result(ret, "TLS write", /*writing=*/true);
}

size_t TlsUpstream::Pending() const {
  return static_cast<size_t>(std::max(0, SSL_pending(ssl_.get())));
}

void TlsUpstream::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // One call sends close_notify; not waiting for the broker's reply is
  // allowed (RFC 8446 6.1) and keeps this non-blocking.
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

std::string SniHostOf(absl::string_view address) {
  // "[v6]:port" is always a literal.
  if (!address.empty() && address.front() == '[') return "";
  const size_t colon = address.rfind(':');
  const std::string host(
      colon == absl::string_view::npos ? address : address.substr(0, colon));
  if (host.empty()) return "";
  in6_addr scratch;
  if (::inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
      ::inet_pton(AF_INET6, host.c_str(), &scratch) == 1) {
    return "";
  }
  return host;
}

}  // namespace mayfly::kafka
