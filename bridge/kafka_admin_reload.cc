// Reloading a listener's PEM files: see kafka_admin_reload.h.
#include "bridge/kafka_admin_reload.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::bridge {
namespace {

constexpr absl::string_view kKeystoreLocation = "ssl.keystore.location";
constexpr absl::string_view kTruststoreLocation = "ssl.truststore.location";

}  // namespace

std::string ListenerConfigName(absl::string_view listener,
                               absl::string_view name) {
  return absl::StrCat("listener.name.", absl::AsciiStrToLower(listener), ".",
                      name);
}

absl::StatusOr<ReloadRequestConfigs> ReloadConfigs(
    const std::vector<BrokerConfigEntry>& entries, absl::string_view listener) {
  std::map<std::string, const BrokerConfigEntry*> by_name;
  for (const BrokerConfigEntry& e : entries) by_name.emplace(e.name, &e);

  std::map<std::string, std::string> send;
  ReloadRequestConfigs out;
  for (const auto& [name, entry] : by_name) {
    if (entry->source != ConfigSource::kDynamicBroker) continue;
    if (entry->sensitive || !entry->value.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the broker has the per-broker dynamic config ", name,
          entry->sensitive ? ", which is sensitive: its value is hidden"
                           : " but reports no value for it",
          ", and AlterConfigs (the only config call librdkafka 2.0.2 has) "
          "replaces all of them, so reloading would delete it; nothing was "
          "changed. Set it statically or as a cluster-wide default instead"));
    }
    send[name] = *entry->value;
    out.carried_over.push_back(name);
  }

  for (absl::string_view store : {kKeystoreLocation, kTruststoreLocation}) {
    const std::string prefixed = ListenerConfigName(listener, store);
    const BrokerConfigEntry* effective = nullptr;
    for (const std::string& name : {prefixed, std::string(store)}) {
      auto it = by_name.find(name);
      if (it != by_name.end() && it->second->value.has_value() &&
          !it->second->value->empty()) {
        effective = it->second;
        break;
      }
    }
    if (effective == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("the broker reports neither ", prefixed, " nor ", store,
                       ": listener ", listener,
                       " has no file to reload (inline PEM or no SSL on it?)"));
    }
    send[prefixed] = *effective->value;
  }
  out.configs.assign(send.begin(), send.end());
  auto threads = by_name.find("num.network.threads");
  int n = 0;
  if (threads != by_name.end() && threads->second->value.has_value() &&
      absl::SimpleAtoi(*threads->second->value, &n) && n > 0) {
    out.network_threads = n;
  }
  return out;
}

absl::StatusOr<ReloadRequestConfigs> ReloadListenerFiles(
    BrokerConfigAdmin& admin, int32_t node_id, absl::string_view listener) {
  ASSIGN_OR_RETURN(std::vector<BrokerConfigEntry> entries,
                   admin.DescribeBrokerConfigs(node_id));
  ASSIGN_OR_RETURN(ReloadRequestConfigs request,
                   ReloadConfigs(entries, listener));
  RETURN_IF_ERROR(admin.AlterBrokerConfigs(node_id, request.configs));
  return request;
}

}  // namespace mayfly::bridge
