// In-memory admins for tests: for ACLs, a set of bindings standing in for the
// cluster with scripted failures per binding or for whole requests; for
// broker configs, scripted DescribeConfigs entries and recorded alters.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_FAKE_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_FAKE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bridge/kafka_admin.h"

namespace mayfly::bridge {

class FakeAclAdmin : public AclAdmin {
 public:
  // What the cluster holds.
  std::set<AclBinding> acls;
  // Creating or deleting one of these fails with its status, once.
  std::map<AclBinding, absl::Status> fail_once;
  // When not OK, the next request of that kind fails as a whole, once.
  absl::Status fail_next_describe;
  absl::Status fail_next_create;
  absl::Status fail_next_delete;
  // How many requests of each kind were made.
  int describe_calls = 0, create_calls = 0, delete_calls = 0;

  absl::StatusOr<ClusterAcls> DescribeAcls() override {
    ++describe_calls;
    if (!fail_next_describe.ok()) return std::exchange(fail_next_describe, {});
    return ClusterAcls{std::vector<AclBinding>(acls.begin(), acls.end()), {}};
  }

  std::vector<absl::Status> CreateAcls(
      const std::vector<AclBinding>& bindings) override {
    ++create_calls;
    return Each(bindings, fail_next_create,
                [this](const AclBinding& b) { acls.insert(b); });
  }

  std::vector<absl::Status> DeleteAcls(
      const std::vector<AclBinding>& bindings) override {
    ++delete_calls;
    return Each(bindings, fail_next_delete,
                [this](const AclBinding& b) { acls.erase(b); });
  }

 private:
  template <typename F>
  std::vector<absl::Status> Each(const std::vector<AclBinding>& bindings,
                                 absl::Status& fail_request, F change) {
    const absl::Status whole = std::exchange(fail_request, {});
    std::vector<absl::Status> out;
    for (const AclBinding& b : bindings) {
      if (!whole.ok()) {
        out.push_back(whole);
        continue;
      }
      auto it = fail_once.find(b);
      if (it != fail_once.end()) {
        out.push_back(it->second);
        fail_once.erase(it);
        continue;
      }
      change(b);
      out.push_back(absl::OkStatus());
    }
    return out;
  }
};

// An in-memory BrokerConfigAdmin: what DescribeConfigs reports, and a record
// of every AlterConfigs request.
class FakeBrokerConfigAdmin : public BrokerConfigAdmin {
 public:
  std::vector<BrokerConfigEntry> entries;
  absl::Status alter_status;  // what AlterBrokerConfigs answers
  std::vector<std::vector<std::pair<std::string, std::string>>> altered;
  std::vector<int32_t> nodes_described;

  absl::StatusOr<std::vector<BrokerConfigEntry>> DescribeBrokerConfigs(
      int32_t node_id) override {
    nodes_described.push_back(node_id);
    return entries;
  }
  absl::Status AlterBrokerConfigs(
      int32_t node_id,
      const std::vector<std::pair<std::string, std::string>>& configs)
      override {
    (void)node_id;
    altered.push_back(configs);
    return alter_status;
  }
};

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_FAKE_H_
