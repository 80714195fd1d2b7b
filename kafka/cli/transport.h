// The transport of produce and consume runs (--tls mayfly|files|none): the
// librdkafka configuration of each handle, after the run's own settings and
// before --property.
//
//   ASSIGN_OR_RETURN(auto transport, Transport::Start(options, clock));
//   rd_kafka_conf_t* conf = rd_kafka_conf_new();
//   ... callbacks, opaque ...
//   RETURN_IF_ERROR(transport->Configure(conf, settings));
//   rd_kafka_t* rk = rd_kafka_new(type, conf, ...);
//   RETURN_IF_ERROR(transport->CheckHandle(rk));
//   ... keep `transport` until rd_kafka_destroy(rk) has returned.
//
// --tls mayfly: one X509Source on the Workload API (TransportOptions.socket,
// .spiffe_id) for every handle of the run, and KafkaIdentity::Configure on
// each conf with the broker policy; the relay owns the broker sockets, so
// socket.nagle.disable is left to it. --tls files: librdkafka's own TLS on
// the files of a `mayfly watch x509 --write` directory, the ..data
// generation current at Configure (static, never reloaded), endpoint
// identification off (broker SVIDs carry a URI, not a host name) and the
// broker's SPIFFE ID checked instead (files_broker_check.h).
// --tls none: PLAINTEXT. Both set socket.nagle.disable, without which small
// requests wait ~40 ms on loopback (Nagle with delayed ACKs).
#ifndef MAYFLY_KAFKA_CLI_TRANSPORT_H_
#define MAYFLY_KAFKA_CLI_TRANSPORT_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "kafka/cli/options.h"
#include "kafka/client/kafka_identity.h"
#include "kafka/common/rdkafka.h"

namespace mayfly::kafka::cli {

using common::SetProperties;
using common::Settings;

// Owns what the handles of a run need for their transport. Thread-safe
// once started.
class Transport {
 public:
  // --tls mayfly: starts the X509Source and waits for its SVID
  // (TransportOptions.first_svid_timeout: DeadlineExceeded with the last
  // error; Unavailable when --spiffe-id names none on offer). --tls files:
  // checks that the directory has a ..data generation. `clock` must outlive
  // the Transport.
  static absl::StatusOr<std::unique_ptr<Transport>> Start(
      const TransportOptions& options, const identity::Clock& clock);

  // Sets `settings`, then the transport's, then TransportOptions.properties
  // on `conf` (not owned: the caller hands it to rd_kafka_new); for --tls
  // mayfly, then KafkaIdentity::Configure. The handle made from it must be
  // destroyed before the Transport.
  absl::Status Configure(rd_kafka_conf_t* conf, const Settings& settings)
      ABSL_LOCKS_EXCLUDED(mu_);

  // --tls mayfly: KafkaIdentity::VerifyHandle by the identity that
  // configured `rk`'s conf. OK otherwise.
  absl::Status CheckHandle(rd_kafka_t* rk) const ABSL_LOCKS_EXCLUDED(mu_);

  // Over every handle: connections moved to a new SVID; 0 unless --tls
  // mayfly.
  int64_t Rotations() const ABSL_LOCKS_EXCLUDED(mu_);
  // Over every handle: broker connections refused for identity reasons
  // the library saw (our SVID refused, the broker's not accepted); 0
  // unless --tls mayfly.
  int64_t AuthFailures() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Transport(TransportOptions options)
      : options_(std::move(options)), broker_policy_{options_.brokers} {}

  const TransportOptions options_;
  // --tls files: the brokers' IDs, borrowed by every handle's broker
  // threads (files_broker_check.h).
  const BrokerIdPolicy broker_policy_;
  std::unique_ptr<LogSink> log_sink_;
  const identity::Clock* clock_ = nullptr;
  std::shared_ptr<identity::workload::X509SvidSource> source_;
  mutable absl::Mutex mu_;
  // One per configured conf, in order.
  std::vector<std::shared_ptr<KafkaIdentity>> identities_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_TRANSPORT_H_
