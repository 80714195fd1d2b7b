// DROP at merge: KafkaIdentity::Configure before the library exists. Always
// Unimplemented, so nothing runs on a stub by mistake.
#include "absl/status/status.h"
#include "kafka/client/kafka_identity.h"

namespace mayfly::kafka {

absl::StatusOr<std::shared_ptr<KafkaIdentity>> KafkaIdentity::Configure(
    rd_kafka_conf_t*, ClientOptions) {
  return absl::UnimplementedError(
      "the Mayfly Kafka client library is not built into this binary yet "
      "(kafka_identity_stub.cc)");
}

}  // namespace mayfly::kafka
