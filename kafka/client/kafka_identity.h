// KafkaIdentity: a librdkafka producer or consumer on the process's
// X.509-SVIDs, rotating on the live handle (issue 11).
//
// One call sets up an rd_kafka_conf_t. The rd_kafka_t made from it then
// talks plaintext Kafka to one end of a socketpair per broker connection;
// a relay thread on the other end does mTLS to the broker with the current
// SVID, checks the broker's SPIFFE ID against the current bundle, and moves
// the connection to a fresh SVID between requests, well before the old one
// expires, so librdkafka never sees a planned rotation
// (kafka/CLIENT_DESIGN.md; docs/kafka.md, "The client library").
//
//   rd_kafka_conf_t* conf = rd_kafka_conf_new();
//   rd_kafka_conf_set(conf, "bootstrap.servers", "broker:9093", err, size);
//   ClientOptions options;
//   options.source = source;  // e.g. identity::workload::X509Source::Start
//   options.broker_policy.brokers = {*identity::SpiffeIdPattern::FromString(
//       "spiffe://prod.acme/kafka/*")};  // the policy's `brokers`
//   ASSIGN_OR_RETURN(auto identity, KafkaIdentity::Configure(conf, options));
//   rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, size);
//   ... produce as usual; keep `identity` until rd_kafka_destroy returns.
//
// Errors never fall back to plaintext or to an old certificate: a broker
// connection that cannot be made on a valid SVID fails like a refused TCP
// connect, and librdkafka retries it with its own backoff; the reason (no
// SVID, agent unreachable, broker ID not wanted, our SVID refused) goes to
// the LogSink and to ClientStats::last_error.
//
// Thread-safe. C++ API users (rdkafka++): pass RdKafka::Conf::c_ptr_global().
#ifndef MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_H_
#define MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "identity/workload/x509_svid_source.h"
#include "kafka/client/upstream/broker_verifier.h"
#include "kafka/client/upstream/rotation_scheduler.h"

namespace mayfly::kafka {

// Defaults of ClientOptions' limits on the process's relays.
//
// One relayed connection is one thread (two while it rotates) and five
// fds (socketpair end, two eventfds, one TLS socket, two while rotating).
// 1024 connections: about 200 brokers for each of five handles, well
// under Linux's default threads-max and the usual RLIMIT_NOFILE of 65536.
inline constexpr int64_t kDefaultMaxConnections = 1024;
// 256 MiB: 64 relays each holding its own bound both ways
// (kRelayMaxBuffered, 4 MiB, relay_loop.h), and then each only while a
// reader lags; an idle connection holds nothing.
inline constexpr int64_t kDefaultMaxBufferedBytes = int64_t{256} << 20;

struct ClientOptions {
  // Required: the SVID to present and the bundles to check brokers with.
  std::shared_ptr<identity::workload::X509SvidSource> source;
  // Required: which brokers to accept (broker_verifier.h), by SPIFFE ID
  // patterns like a bridge policy's `brokers`. There is no default.
  BrokerIdPolicy broker_policy;
  // When connections move to a new SVID (rotation_scheduler.h).
  RotationPolicy rotation;
  // Where each broker connection really goes, given librdkafka's
  // "host:port" nodename: an "IPv4:port" or "[IPv6]:port" to redirect it
  // (a port forward; a test's TLS front before librdkafka's mock cluster),
  // "" to connect where librdkafka says. The broker is checked by its SPIFFE
  // ID either way. Unset: no redirect.
  std::function<std::string(absl::string_view nodename)> connect_to;
  // Bounds TCP connect + TLS handshake + probe of one upstream.
  absl::Duration connect_timeout = absl::Seconds(30);
  // Where the library logs (never stderr); null drops the logs.
  LogSink* log_sink = nullptr;
  // Null: identity::RealClock(). Must outlive the KafkaIdentity.
  const identity::Clock* clock = nullptr;
  // Limits over every relayed connection of the process, all
  // KafkaIdentity objects together (each connect is checked against the
  // limits of the identity it belongs to). A connect beyond
  // max_connections is refused with EMFILE, one while the relays hold
  // max_buffered_bytes or more with ENOBUFS, one whose thread cannot start
  // with EAGAIN: librdkafka reports each as a failed connect and retries
  // with its backoff. Over max_buffered_bytes, relays also stop reading
  // until their writes bring the total down.
  int64_t max_connections = kDefaultMaxConnections;
  int64_t max_buffered_bytes = kDefaultMaxBufferedBytes;
};

// Monotonic counters since Configure, over every handle made from the conf.
struct ClientStats {
  uint64_t connections_opened = 0;  // broker connections librdkafka made
  uint64_t connect_failures = 0;    // of those, refused before any request
  // One connection moved to a new SVID, unseen by librdkafka.
  uint64_t rotations = 0;
  // A due rotation's new upstream failed; the old one carried on.
  uint64_t rotation_failures = 0;
  // A broker whose certificate or SPIFFE ID was not accepted.
  uint64_t peer_rejected = 0;
  // The broker closed the connection on our SVID's probe request: it
  // refused our SVID.
  uint64_t svid_refused = 0;
  // No SVID to present (agent unreachable, not registered, expired).
  uint64_t svid_unavailable = 0;
  // A connection still on its SVID when due (no newer one yet).
  uint64_t overdue_rotations = 0;
  // Drains the SVID's hard deadline cut short (CLIENT_DESIGN.md 1.4).
  uint64_t forced_overlaps = 0;
  // Live connections the broker (or the network) closed; librdkafka saw
  // those as disconnects.
  uint64_t upstream_closed = 0;
  int64_t active_connections = 0;
  // The last error, with the broker's address; empty if none yet.
  std::string last_error;
};

class KafkaIdentity {
 public:
  // Sets the socket hooks, the interceptors and the forced properties
  // (security.protocol=plaintext, socket.nagle.disable=false,
  // api.version.request=true, api.version.fallback.ms=0) on `conf`. Call it
  // before rd_kafka_new. InvalidArgument naming the property when `conf`
  // sets ssl.*, sasl.* or a security.protocol other than plaintext, or has
  // socket hooks of its own; InvalidArgument naming the option when
  // options.source is null or options.broker_policy.brokers is empty.
  static absl::StatusOr<std::shared_ptr<KafkaIdentity>> Configure(
      rd_kafka_conf_t* conf, ClientOptions options);

  virtual ~KafkaIdentity() = default;

  // FailedPrecondition when `rk` was not made from a conf this object
  // configured, or its socket hooks were replaced afterwards. Such a
  // handle fails closed either way: rd_kafka_new cannot refuse it, but
  // every broker connection it tries is refused before a socket exists
  // (EPERM), so it never talks to a broker, in plaintext or otherwise.
  virtual absl::Status VerifyHandle(rd_kafka_t* rk) const = 0;

  virtual ClientStats Stats() const = 0;
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_KAFKA_IDENTITY_H_
