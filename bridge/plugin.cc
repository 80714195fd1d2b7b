// Plugin-mode rendering. See plugin.h.
#include "bridge/plugin.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "bridge/properties_text.h"

namespace mayfly::bridge {
std::string RenderPluginProperties(const Policy& policy,
                                   const PluginOptions& options) {
  const std::string dir(absl::StripSuffix(options.svid_dir, "/"));
  std::string out = absl::StrCat(
      "# Kafka broker properties for the Mayfly broker plugin\n",
      "# (mayfly-kafka-broker-plugin-*.jar on the broker's classpath), from\n",
      "# the policy ", PropertiesComment(options.policy_file), ".\n", "#\n",
      "# The principal is the client SVID's SPIFFE ID mapped by the policy;\n",
      "# it carries the SVID's NotAfter, and a connection whose SVID has\n",
      "# expired is closed at its next request.\n",
      "principal.builder.class=", kPluginPrincipalBuilder, "\n",
      "# Kafka's StandardAuthorizer (ACLs from `mayfly bridge apply`), with\n",
      "# the policy's super_users and expired principals denied.\n",
      "authorizer.class.name=", kPluginAuthorizer, "\n",
      "allow.everyone.if.no.acl.found=false\n",
      "# Every listener, the controller's included, and the broker's own\n",
      "# connections: key, chain and bundle from the SVID directory, read\n",
      "# again for each new handshake once it has changed (no reload call);\n",
      "# peers checked by their SPIFFE IDs, not by hostnames.\n",
      "ssl.engine.factory.class=", kPluginEngineFactory, "\n",
      "ssl.client.auth=required\n",
      "mayfly.policy.file=", PropertiesValue(options.policy_file), "\n",
      "# Kept current by `mayfly watch x509 --write ", PropertiesComment(dir),
      "`.\n", "mayfly.svid.dir=", PropertiesValue(dir), "\n",
      "# This broker's own SPIFFE ID: an SVID with another is never served.\n",
      "mayfly.svid.spiffe.id=", PropertiesValue(options.broker_id), "\n",
      "# A peer's SPIFFE ID must be in one of these (the policy's).\n",
      "mayfly.trust.domains=");
  absl::StrAppend(
      &out,
      absl::StrJoin(policy.trust_domains(), ",",
                    [](std::string* s, const identity::TrustDomain& td) {
                      absl::StrAppend(s, td.name());
                    }),
      "\n");
  // The plugin reads the brokers' IDs from the policy file itself.
  absl::StrAppend(
      &out,
      "# The servers this broker's own connections reach (its controller,\n"
      "# other brokers) must be the policy's brokers, read from\n"
      "# mayfly.policy.file: ",
      absl::StrJoin(policy.brokers(), ", ",
                    [](std::string* s, const identity::SpiffeIdPattern& p) {
                      absl::StrAppend(s, p.ToString());
                    }),
      "\n");
  return out;
}

}  // namespace mayfly::bridge
