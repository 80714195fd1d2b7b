// The broker properties for the Mayfly broker plugin (kafka/broker-plugin):
// what `mayfly bridge render POLICY --broker` prints.
#ifndef MAYFLY_BRIDGE_PLUGIN_H_
#define MAYFLY_BRIDGE_PLUGIN_H_

#include <string>

#include "bridge/policy.h"

namespace mayfly::bridge {

// The plugin's classes, as the broker names them.
inline constexpr char kPluginPrincipalBuilder[] =
    "dev.mayfly.kafka.principal.SpiffePrincipalBuilder";
inline constexpr char kPluginAuthorizer[] =
    "dev.mayfly.kafka.authorizer.SpiffeAuthorizer";
inline constexpr char kPluginEngineFactory[] =
    "dev.mayfly.kafka.ssl.SvidSslEngineFactory";

struct PluginOptions {
  // Absolute: the broker reads it (mayfly.policy.file).
  std::string policy_file;
  // Absolute: where `mayfly watch x509 --write` keeps the broker's SVID
  // (mayfly.svid.dir).
  std::string svid_dir;
  // This broker's own SPIFFE ID (mayfly.svid.spiffe.id), one of the
  // policy's brokers: the plugin serves no SVID with another ID.
  std::string broker_id;
};

// Every property the plugin needs, broker-wide (every SSL listener, the
// controller listener and the broker's own connections), with "#" comment
// lines saying why: the three classes, ssl.client.auth=required,
// mayfly.policy.file, mayfly.svid.dir, mayfly.svid.spiffe.id, and
// mayfly.trust.domains (the policy's trust domains, in its order), then a
// comment naming the policy's brokers: with no mayfly.peer.spiffe.ids, the
// plugin takes them from the policy file as the servers its own
// connections may reach. Super users come from the policy through the
// authorizer, so there is no super.users line.
std::string RenderPluginProperties(const Policy& policy,
                                   const PluginOptions& options);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_PLUGIN_H_
