// A librdkafka configuration for produce and consume runs: the common
// settings, the transport (--tls mayfly|files|none), then --property.
//
//   rd_kafka_conf_t* conf = rd_kafka_conf_new();
//   ... callbacks, opaque ...
//   ASSIGN_OR_RETURN(auto transport,
//                    Transport::Configure(conf, settings, options, clock));
//   rd_kafka_t* rk = rd_kafka_new(type, conf, ...);
//   RETURN_IF_ERROR(transport->CheckHandle(rk));
//   ... keep `transport` until rd_kafka_destroy(rk) has returned.
//
// --tls mayfly: an X509Source on the Workload API (TransportOptions.socket,
// .spiffe_id) and KafkaIdentity::Configure with the broker policy; the
// relay owns the broker sockets, so socket.nagle.disable is left to it.
// --tls files: librdkafka's own TLS on the files of a `mayfly watch x509
// --write` directory, the ..data generation current at start (static,
// never reloaded), endpoint identification off (broker SVIDs carry a URI,
// not a host name). --tls none: PLAINTEXT. Both set socket.nagle.disable,
// which otherwise holds small requests ~40 ms on loopback (delayed ACKs).
#ifndef MAYFLY_KAFKA_CLI_TRANSPORT_H_
#define MAYFLY_KAFKA_CLI_TRANSPORT_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "kafka/cli/options.h"
#include "kafka/client/kafka_identity.h"

namespace mayfly::kafka::cli {

using Settings = std::vector<std::pair<std::string, std::string>>;

// Sets each property in order; InvalidArgument naming the first refused.
absl::Status SetProperties(rd_kafka_conf_t* conf, const Settings& settings);

// Owns what a --tls mayfly handle runs on; nothing for the others.
class Transport {
 public:
  // Sets `settings`, then the transport's, then options.properties on
  // `conf` (not owned; the caller hands it to rd_kafka_new). `clock` must
  // outlive the Transport.
  static absl::StatusOr<std::unique_ptr<Transport>> Configure(
      rd_kafka_conf_t* conf, const Settings& settings,
      const TransportOptions& options, const identity::Clock& clock);

  // --tls mayfly: KafkaIdentity::VerifyHandle. OK otherwise.
  absl::Status CheckHandle(rd_kafka_t* rk) const;

  // Connections moved to a new SVID; 0 unless --tls mayfly.
  int64_t Rotations() const;
  // Broker connections refused for identity reasons the library saw (our
  // SVID refused, the broker's not accepted); 0 unless --tls mayfly.
  int64_t AuthFailures() const;

 private:
  Transport() = default;

  std::unique_ptr<LogSink> log_sink_;
  std::shared_ptr<identity::workload::X509SvidSource> source_;
  std::shared_ptr<KafkaIdentity> identity_;
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_TRANSPORT_H_
