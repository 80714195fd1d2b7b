// Making a stock broker reload its listener's key, chain and trust bundle
// after `mayfly watch x509 --write` replaced the PEM files (KIP-226, PEM per
// KIP-651): alter the listener's ssl.keystore.location and
// ssl.truststore.location to the values they already have. The broker then
// rebuilds the listener's SSL context if the files changed (it compares
// their modification times); new handshakes get the new SVID, live
// connections keep theirs.
//
// librdkafka 2.0.2 has only legacy AlterConfigs, which replaces the node's
// whole set of per-broker dynamic configs. So the request carries every
// per-broker dynamic config the broker reports (source
// DYNAMIC_BROKER_CONFIG) with its value, plus the two locations. A
// sensitive one (a password, an inline key) is reported without its value
// and would be lost: then nothing is sent, and the error names it.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_RELOAD_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_RELOAD_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/kafka_admin.h"

namespace mayfly::bridge {

// The listener whose files are reloaded when --listener is not given.
inline constexpr absl::string_view kDefaultListener = "SSL";

// Kafka's per-listener name of broker config `name`:
// "listener.name.<listener, lower case>.<name>".
std::string ListenerConfigName(absl::string_view listener,
                               absl::string_view name);

// Kafka's default num.network.threads.
inline constexpr int kDefaultNetworkThreads = 3;

struct ReloadRequestConfigs {
  // What AlterConfigs sends, sorted by name.
  std::vector<std::pair<std::string, std::string>> configs;
  // The names among them that were already dynamic and are carried over.
  std::vector<std::string> carried_over;
  // The broker's num.network.threads: each has its own SSL context.
  int network_threads = kDefaultNetworkThreads;
};

// The configs to send for `listener` (as named in `listeners=`, any case),
// from what DescribeConfigs reported. The locations are the listener's
// effective ones: listener.name.<listener>.ssl.*.location if set, else
// ssl.*.location. FailedPrecondition when a dynamic config is sensitive or
// has no value, or when the listener has no keystore or truststore file.
absl::StatusOr<ReloadRequestConfigs> ReloadConfigs(
    const std::vector<BrokerConfigEntry>& entries, absl::string_view listener);

// Describe, compute, alter: one reload of `listener` on node `node_id`.
// Returns what was sent.
absl::StatusOr<ReloadRequestConfigs> ReloadListenerFiles(
    BrokerConfigAdmin& admin, int32_t node_id, absl::string_view listener);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_RELOAD_H_
