// The AclAdmin and BrokerConfigAdmin of a real cluster, through librdkafka's
// admin API over TLS with an SVID (kafka_admin_tls.h).
//
// The connection: security.protocol=ssl with the SVID's chain, key and our
// trust domain's bundle as files; host name checking off
// (ssl.endpoint.identification.algorithm=none: a broker SVID need carry no
// DNS SAN) and the broker's SPIFFE ID checked instead in
// ssl_cert_verify_cb; api.version.fallback.ms=0. Every call waits at most
// the timeout. librdkafka's own log lines go to the Logger given.
//
// What librdkafka 2.0.2 cannot express (checked on this build): ACLs on
// TRANSACTIONAL_ID, DELEGATION_TOKEN or USER resources
// (rd_kafka_AclBinding_new refuses them), so creating or deleting one fails
// with Unimplemented, and DescribeAcls returns them as opaque ACLs
// (librdkafka reports their resource type as UNKNOWN). The cluster resource is
// librdkafka's RD_KAFKA_RESOURCE_BROKER, whose number is Kafka's CLUSTER in
// ACLs.
//
// Not thread-safe: one call at a time (librdkafka's threads only touch the
// refusal, under its lock).
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_H_

#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/kafka_admin.h"
#include "bridge/kafka_admin_tls.h"
#include "identity/log/log.h"
#include "kafka/common/rdkafka.h"

namespace mayfly::bridge {

// How long each admin call may take unless told otherwise (--timeout).
inline constexpr absl::Duration kDefaultAdminTimeout = absl::Seconds(30);

struct KafkaAdminOptions {
  std::string bootstrap;  // HOST:PORT[,HOST:PORT...]
  absl::Duration timeout = kDefaultAdminTimeout;
  BrokerIdRule broker;
};

class RdKafkaAdmin : public AclAdmin, public BrokerConfigAdmin {
 public:
  // Makes the librdkafka handle (it connects on the first call). `logger`
  // must outlive the admin.
  static absl::StatusOr<std::unique_ptr<RdKafkaAdmin>> Create(
      const KafkaAdminOptions& options, const AdminSvid& svid, Logger& logger);
  ~RdKafkaAdmin() override;
  RdKafkaAdmin(const RdKafkaAdmin&) = delete;
  RdKafkaAdmin& operator=(const RdKafkaAdmin&) = delete;

  absl::Duration timeout() const { return options_.timeout; }

  absl::StatusOr<ClusterAcls> DescribeAcls() override;
  std::vector<absl::Status> CreateAcls(
      const std::vector<AclBinding>& bindings) override;
  std::vector<absl::Status> DeleteAcls(
      const std::vector<AclBinding>& bindings) override;

  absl::StatusOr<std::vector<BrokerConfigEntry>> DescribeBrokerConfigs(
      int32_t node_id) override;
  absl::Status AlterBrokerConfigs(
      int32_t node_id,
      const std::vector<std::pair<std::string, std::string>>& configs) override;

 private:
  RdKafkaAdmin(KafkaAdminOptions options, Logger& logger)
      : options_(std::move(options)), logger_(logger) {}

  // Called by librdkafka on its threads; reads only immutable members.
  static int VerifyBroker(rd_kafka_t* rk, const char* broker_name,
                          int32_t broker_id, int* x509_error, int depth,
                          const char* buf, size_t size, char* errstr,
                          size_t errstr_size, void* opaque);
  static void LogLine(const rd_kafka_t* rk, int level, const char* fac,
                      const char* buf);

  struct EventDeleter {
    void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  };
  using UniqueEvent = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  };
  using UniqueQueue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
  struct OptionsDeleter {
    void operator()(rd_kafka_AdminOptions_t* o) const {
      rd_kafka_AdminOptions_destroy(o);
    }
  };
  using UniqueOptions =
      std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter>;

  // Admin options bounded by the timeout.
  absl::StatusOr<UniqueOptions> NewOptions() const;
  // Makes a fresh queue and options, lets `call` submit the request with
  // them, and waits for its result.
  absl::StatusOr<UniqueEvent> Submit(
      const std::function<void(const rd_kafka_AdminOptions_t*,
                               rd_kafka_queue_t*)>& call,
      absl::string_view what) const;
  // Waits for the result of the request submitted on `queue`: the event,
  // or the request's error.
  absl::StatusOr<UniqueEvent> Wait(rd_kafka_queue_t* queue,
                                   absl::string_view what) const;

  // The first broker certificate VerifyBroker refused, if any: a wrong
  // broker stays wrong, so calls fail with it at once instead of waiting
  // out the timeout while librdkafka reconnects.
  std::optional<absl::Status> Refusal() const ABSL_LOCKS_EXCLUDED(mu_);

  const KafkaAdminOptions options_;
  Logger& logger_;
  mutable absl::Mutex mu_;
  mutable std::optional<absl::Status> refusal_ ABSL_GUARDED_BY(mu_);
  // Declared last, so destroyed first: librdkafka's threads stop before
  // what its callbacks use goes.
  kafka::common::UniqueKafka rk_;
};

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_H_
