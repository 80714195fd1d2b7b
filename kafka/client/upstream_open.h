// Opening one upstream of a relayed connection: TCP connect to the broker,
// the TLS handshake with one SVID generation (tls_upstream.h), then the
// probe request that proves the broker accepted that SVID.
//
// The probe (kafka/CLIENT_DESIGN.md 1.3): a TLS 1.3 client finishes its
// handshake before the broker has judged the client certificate, so a
// handshake that succeeds says nothing about our SVID. One ApiVersions v0
// request is sent and its response read; a broker that refused the SVID
// (the broker plugin, or Kafka's own ssl.client.auth=required) closes the
// connection instead. Only then is the upstream given to librdkafka's
// traffic, so a refusal never shows up under one of librdkafka's requests.
//
// Blocking, bounded by `timeout`, and cancelled early when `cancel_fd`
// (an eventfd, or -1 for none) becomes readable during the TCP connect or
// the probe; the TLS handshake itself is bounded by the timeout only.
//
// Errors name the broker's address:
//   kUnavailable        TCP or TLS failure, no SVID, the broker's answer
//                       carried an error code, cancelled
//   kDeadlineExceeded   `timeout` passed
//   kPermissionDenied   the broker's SPIFFE ID is not wanted (tls_upstream.h)
//   kUnauthenticated    the broker's chain is not a trusted SVID, or the
//                       broker closed the connection on the probe: it
//                       refused our SVID
#ifndef MAYFLY_KAFKA_CLIENT_UPSTREAM_OPEN_H_
#define MAYFLY_KAFKA_CLIENT_UPSTREAM_OPEN_H_

#include <sys/socket.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/workload/x509_svid_source.h"
#include "kafka/client/upstream/tls_upstream.h"

namespace mayfly::kafka {

// Where a librdkafka connection goes: the resolved address connect_cb got,
// and librdkafka's "host:port" nodename for messages and SNI.
struct BrokerTarget {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string name;
};

// The correlation id of the probe request. librdkafka numbers its own
// requests per connection from 1, so this one never meets them (the probe
// is answered before librdkafka's first byte is forwarded anyway).
inline constexpr int32_t kProbeCorrelationId = 0x6d617966;  // "mayf"

// The probe request's bytes: ApiVersions v0, client_id "mayfly-relay".
std::string ProbeRequest();

// Why the probe failed, from the broker's response bytes (the frame after
// its size field); OK when it is a successful ApiVersions v0 answer to
// ProbeRequest(). InvalidArgument names what is wrong.
absl::Status CheckProbeResponse(absl::string_view frame);

// What kind of failure an OpenUpstream error was, for the counters.
enum class UpstreamFailure {
  kNone,
  kNoSvid,        // the SVID of `context` had expired
  kNetwork,       // TCP, TLS, timeout, cancel, an odd answer
  kPeerRejected,  // the broker's certificate or SPIFFE ID was not accepted
  kSvidRefused,   // the broker ended the connection on the probe
};

// On error, sets `*failure` (never kNone then); on success leaves kNone.
absl::StatusOr<std::unique_ptr<TlsUpstream>> OpenUpstream(
    const BrokerTarget& target, std::shared_ptr<const TlsClientContext> context,
    const identity::workload::X509SvidSource& source,
    const identity::Clock& clock, const BrokerIdPolicy& policy,
    absl::Duration timeout, int cancel_fd, UpstreamFailure* failure);

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_UPSTREAM_OPEN_H_
