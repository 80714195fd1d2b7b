// Conversions between the bridge's ACL and config types and librdkafka's,
// and librdkafka's error codes as absl::Status. Internal to
// kafka_admin_rdkafka.cc; separate so each file stays readable.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_CONVERT_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_CONVERT_H_

#include <librdkafka/rdkafka.h>

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/acl.h"
#include "bridge/acl_plan.h"
#include "bridge/kafka_admin.h"

namespace mayfly::bridge::rdkafka_internal {

// librdkafka's code as a Status a caller can act on (timeouts
// DeadlineExceeded, authorization PermissionDenied, ...); the message keeps
// Kafka's error name: "CLUSTER_AUTHORIZATION_FAILED: <detail>".
absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view detail);
// OK for null.
absl::Status KafkaError(const rd_kafka_error_t* error);

struct AclBindingDeleter {
  void operator()(rd_kafka_AclBinding_t* b) const {
    rd_kafka_AclBinding_destroy(b);
  }
};
using UniqueAclBinding =
    std::unique_ptr<rd_kafka_AclBinding_t, AclBindingDeleter>;

// A binding (`filter` false) or an exact-match filter for it (`filter`
// true: every field set, none ANY, so it matches that one binding only).
// Unimplemented for what librdkafka 2.0.2 cannot express.
absl::StatusOr<UniqueAclBinding> ToRd(const AclBinding& b, bool filter);

// A binding librdkafka returned; nullopt for what AclBinding cannot hold
// (resource types and patterns librdkafka or the policy do not know).
std::optional<AclBinding> FromRd(const rd_kafka_AclBinding_t& acl);

// What people and the plan need of a binding FromRd cannot convert.
OpaqueAcl Opaque(const rd_kafka_AclBinding_t& acl);

// One config entry of a DescribeConfigs result.
BrokerConfigEntry FromRd(const rd_kafka_ConfigEntry_t& e);

}  // namespace mayfly::bridge::rdkafka_internal

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_RDKAFKA_CONVERT_H_
