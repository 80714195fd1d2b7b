// The TLS client side of one relayed connection to a Kafka broker.
//
// kafka/CLIENT_DESIGN.md 1.3: librdkafka speaks plaintext into a socketpair
// and the relay speaks TLS to the broker with the process's current
// X.509-SVID. This file is that TLS leg:
//   TlsClientContext  one SSL_CTX per SVID generation: the leaf, every
//                     intermediate (unlike librdkafka's
//                     ssl.certificate.pem) and the key, TLS >= 1.2.
//   TlsUpstream       one handshake on a connected fd, checking the broker
//                     with broker_verifier.h against the source's current
//                     bundle (no hostname check), then non-blocking
//                     read/write for the relay's poll loop.
// SNI is the host part of the broker's "host:port" unless it is an IP
// literal, as librdkafka does (ssl.c:451-462).
//
// A TLS 1.3 client finishes its handshake before the broker has judged the
// client certificate, so a successful Connect proves the broker to us, not
// our SVID to the broker: a refusal shows up as a closed connection on the
// first read (the relay's probe request, CLIENT_DESIGN.md 1.3).
//
// Errors name the broker's address and the reason:
//   kUnavailable       no SVID to present (the source's reason), the SVID
//                      in the context has expired, a TLS or socket failure
//   kPermissionDenied  the broker's SPIFFE ID is not one we want
//   kUnauthenticated   the broker's chain is not a trusted SVID
//   kDeadlineExceeded  the handshake took longer than handshake_timeout
//
// Thread-safety: TlsClientContext is immutable and shared by any number of
// connections on any threads. A TlsUpstream belongs to one thread.
#ifndef MAYFLY_KAFKA_CLIENT_UPSTREAM_TLS_UPSTREAM_H_
#define MAYFLY_KAFKA_CLIENT_UPSTREAM_TLS_UPSTREAM_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "identity/unique_fd.h"
#include "identity/workload/x509_svid_source.h"
#include "identity/x509_svid.h"
#include "kafka/client/upstream/broker_verifier.h"

namespace mayfly::kafka {

using UniqueSslCtx = identity::OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using UniqueSsl = identity::OpenSslPtr<SSL, SSL_free>;

// librdkafka's default socket.connection.setup.timeout.ms (conf.c:565-571)
// bounds the whole connect; the handshake gets the same budget.
inline constexpr absl::Duration kDefaultHandshakeTimeout = absl::Seconds(30);

class TlsClientContext {
 public:
  // A context presenting `svid` (shared: the snapshot stays alive with the
  // context). InvalidArgument when the key does not match the leaf.
  static absl::StatusOr<std::shared_ptr<const TlsClientContext>> Create(
      std::shared_ptr<const identity::X509Svid> svid);
  // The source's current SVID; Unavailable with the source's reason when
  // it has none ("no X.509-SVID received yet", an expiry, ...).
  static absl::StatusOr<std::shared_ptr<const TlsClientContext>> FromSource(
      const identity::workload::X509SvidSource& source);

  // The SVID this context presents. Its pointer identifies the generation:
  // the source hands out the same snapshot until it rotates.
  const std::shared_ptr<const identity::X509Svid>& svid() const {
    return svid_;
  }
  // Borrowed; valid while this context lives.
  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

 private:
  TlsClientContext(std::shared_ptr<const identity::X509Svid> svid,
                   UniqueSslCtx ctx)
      : svid_(std::move(svid)), ctx_(std::move(ctx)) {}

  const std::shared_ptr<const identity::X509Svid> svid_;
  const UniqueSslCtx ctx_;
};

struct TlsUpstreamOptions {
  BrokerIdPolicy broker_policy;
  // Bounds the handshake (Clock::Monotonic). InfiniteDuration() blocks
  // until the handshake ends or the socket fails.
  absl::Duration handshake_timeout = kDefaultHandshakeTimeout;
};

// What a non-blocking read or write did.
struct TlsIo {
  // Bytes moved; 0 when it would block or at end of stream.
  size_t bytes = 0;
  // When bytes == 0 and !eof: what to poll the fd for before retrying.
  bool want_read = false;
  bool want_write = false;
  // Read only: the broker closed the stream (close_notify, or TCP EOF
  // without one). A write to a closed stream is an error.
  bool eof = false;
};

class TlsUpstream {
 public:
  // Performs the TLS handshake on `fd`, a connected stream socket (taken
  // over; closed on failure too), with the broker at `address` ("host:port",
  // librdkafka's nodename). `source` gives the bundles to verify the broker
  // with and must stay valid during the call only; `clock` gives the time
  // certificates are checked at (Now) and the timeout (Monotonic). On
  // return the fd is non-blocking.
  static absl::StatusOr<std::unique_ptr<TlsUpstream>> Connect(
      identity::UniqueFd fd, absl::string_view address,
      std::shared_ptr<const TlsClientContext> context,
      const identity::workload::X509SvidSource& source,
      const identity::Clock& clock, const TlsUpstreamOptions& options);
  // As above, presenting the source's current SVID
  // (TlsClientContext::FromSource): Unavailable naming the address when
  // there is none yet.
  static absl::StatusOr<std::unique_ptr<TlsUpstream>> Connect(
      identity::UniqueFd fd, absl::string_view address,
      const identity::workload::X509SvidSource& source,
      const identity::Clock& clock, const TlsUpstreamOptions& options);

  TlsUpstream(const TlsUpstream&) = delete;
  TlsUpstream& operator=(const TlsUpstream&) = delete;
  ~TlsUpstream();

  // Non-blocking. Unavailable naming the address on a TLS or socket error.
  absl::StatusOr<TlsIo> Read(char* out, size_t size);
  // Non-blocking; may write part of `data`. After a want_read/want_write
  // retry with the same bytes (more may follow them): OpenSSL requires it.
  // Unavailable once the broker has closed its end (never SIGPIPE).
  absl::StatusOr<TlsIo> Write(absl::string_view data);
  // Decrypted bytes Read returns without touching the socket: poll() cannot
  // see them, so the relay must drain them first.
  size_t Pending() const;
  // Sends close_notify without waiting for the broker's (non-blocking, best
  // effort). Read/Write must not be called afterwards.
  void Shutdown();

  int fd() const { return fd_.get(); }
  const std::string& address() const { return address_; }
  const identity::SpiffeId& broker_id() const { return broker_id_; }
  // The SVID this connection presented (its generation).
  const std::shared_ptr<const identity::X509Svid>& svid() const {
    return context_->svid();
  }

 private:
  TlsUpstream(identity::UniqueFd fd, std::string address,
              std::shared_ptr<const TlsClientContext> context, UniqueSsl ssl,
              identity::SpiffeId broker_id)
      : fd_(std::move(fd)),
        address_(std::move(address)),
        context_(std::move(context)),
        ssl_(std::move(ssl)),
        broker_id_(std::move(broker_id)) {}

  absl::StatusOr<TlsIo> Result(int ret, absl::string_view op, bool writing);

  identity::UniqueFd fd_;
  const std::string address_;
  const std::shared_ptr<const TlsClientContext> context_;
  UniqueSsl ssl_;
  const identity::SpiffeId broker_id_;
  bool shut_down_ = false;
};

// The SNI for `address` ("host:port", "[v6]:port"): the host, or "" for an
// IP literal or an address without a host.
std::string SniHostOf(absl::string_view address);

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_UPSTREAM_TLS_UPSTREAM_H_
