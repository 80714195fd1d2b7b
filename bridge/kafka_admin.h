// The admin calls plan, apply and reload-broker make on a cluster, as two
// small interfaces, so their logic is tested against an in-memory fake
// (kafka_admin_fake.h) and runs against librdkafka (kafka_admin_rdkafka.h).
//
// Every call is bounded by the implementation's timeout. Per-binding calls
// return one Status per binding, in the order given: a broker that refuses
// one binding (e.g. SECURITY_DISABLED, CLUSTER_AUTHORIZATION_FAILED) does
// not hide what happened to the others, and a failure of the whole request
// (timeout, no connection) is that error repeated for every binding.
// Implementations need not be thread-safe.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/acl.h"
#include "bridge/acl_plan.h"

namespace mayfly::bridge {

class AclAdmin {
 public:
  virtual ~AclAdmin() = default;

  // Every ACL on the cluster: as bindings, or as opaque ACLs where the
  // implementation cannot express them.
  virtual absl::StatusOr<ClusterAcls> DescribeAcls() = 0;

  // Creates each binding. Creating one that exists already is OK (Kafka
  // treats it so).
  virtual std::vector<absl::Status> CreateAcls(
      const std::vector<AclBinding>& bindings) = 0;

  // Deletes each binding through a filter that matches exactly it (every
  // field set, no ANY), so nothing else can go with it. A binding that is
  // gone already is OK.
  virtual std::vector<absl::Status> DeleteAcls(
      const std::vector<AclBinding>& bindings) = 0;
};

// Where a broker config's value comes from, as DescribeConfigs says
// (Kafka's ConfigSource, same numbering as the protocol).
enum class ConfigSource {
  kUnknown = 0,
  kDynamicTopic = 1,
  kDynamicBroker = 2,         // per-broker dynamic config (this node)
  kDynamicDefaultBroker = 3,  // cluster-wide dynamic default
  kStaticBroker = 4,          // server.properties
  kDefault = 5,
};

struct BrokerConfigEntry {
  std::string name;
  // Unset for a sensitive config (the broker never reveals those) and for
  // one with no value.
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::kUnknown;
  bool sensitive = false;
  bool read_only = false;
};

class BrokerConfigAdmin {
 public:
  virtual ~BrokerConfigAdmin() = default;

  // DescribeConfigs on BROKER resource `node_id`: every config it reports.
  virtual absl::StatusOr<std::vector<BrokerConfigEntry>> DescribeBrokerConfigs(
      int32_t node_id) = 0;

  // Legacy AlterConfigs on BROKER resource `node_id`: REPLACES the node's
  // whole set of per-broker dynamic configs with `configs` (what is not in
  // it reverts). librdkafka 2.0.2 has no IncrementalAlterConfigs.
  virtual absl::Status AlterBrokerConfigs(
      int32_t node_id,
      const std::vector<std::pair<std::string, std::string>>& configs) = 0;
};

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_H_
