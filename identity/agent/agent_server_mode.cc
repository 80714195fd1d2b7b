// The agent's server-mode wiring: entries, SVIDs and bundles from
// mayfly-server (identity/agent/remote) instead of a store and a CA. See
// agent.h.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "identity/agent/agent.h"
#include "identity/log/log.h"
#include "identity/status_macros.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {

absl::Status Agent::CreateServerMode() {
  ASSIGN_OR_RETURN(server_agent_, remote::ServerAgent::Create(config_, clock_));
  registry_ = std::make_unique<Registry>(clock_, config_.default_ttl,
                                         server_agent_->source());
  RETURN_IF_ERROR(StartServing());
  service_->SetRemoteJwtSigner(
      [this](const RegistrationEntry& entry,
             const std::vector<std::string>& audience) {
        return server_agent_->SignJwt(entry, audience);
      });
  // The cache is served at once; the server's entries follow on Sync.
  server_agent_->Start(
      *registry_, [this](std::shared_ptr<const SigningState> state) {
        const identity::CertChain& roots = state->bundle.roots();
        server_bundle_roots_ = roots.size();
        server_bundle_earliest_unix_ =
            absl::ToUnixSeconds(identity::EarliestNotAfter(roots));
        registry_->SetSigningState(state);
        service_->SetSigningState(state);
      });
  LogInfo("agent_started",
          {{"trust_domain", config_.trust_domain.name()},
           {"socket", config_.socket_path},
           {"state_dir", config_.state_dir},
           {"entries_from", absl::StrJoin(config_.server->addresses, ",")},
           {"metrics_port", std::to_string(metrics_port())}});
  return absl::OkStatus();
}

Agent::BundleSummary Agent::SummariseBundle() const {
  if (authority_ != nullptr) {
    const identity::CertChain& roots = authority_->Current()->bundle.roots();
    return {roots.size(), identity::EarliestNotAfter(roots)};
  }
  const int64_t earliest = server_bundle_earliest_unix_.load();
  return {server_bundle_roots_.load(), earliest == 0
                                           ? absl::InfiniteFuture()
                                           : absl::FromUnixSeconds(earliest)};
}

}  // namespace mayfly::agent
