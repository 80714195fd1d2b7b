// MayflyServer::RenderMetrics: what /metrics serves (see server.h). The
// expiry gauges are Unix times, so an alert compares them with time():
// a replica whose intermediate or own SVID stopped being renewed, or a
// bundle root about to lapse, shows there before agents fail.
#include "absl/strings/str_cat.h"
#include "identity/server/peer_auth.h"
#include "identity/server/server.h"
#include "identity/x509_svid.h"

namespace mayfly::server {

using metrics::PrometheusMetric;
using metrics::TimestampSeconds;

std::string MayflyServer::RenderMetrics() const {
  const std::shared_ptr<const SigningMaterial> signing = signer_->Current();
  // The roots agents are sent: this replica's and the store's (others').
  absl::Time earliest_root = absl::InfiniteFuture();
  absl::StatusOr<identity::X509Bundle> bundle = X509BundleOf(
      config_.trust_domain, cache_->ViewFor("").bundle, signing->roots);
  if (bundle.ok()) earliest_root = identity::EarliestNotAfter(bundle->roots());
  const NodeService::Counters node = node_->GetCounters();
  const StoreCache::AgentCounts agents = cache_->CountAgents();
  absl::Time server_svid_not_after;
  {
    absl::MutexLock lock(&mu_);
    server_svid_not_after = server_svid_not_after_;
  }
  return absl::StrCat(
      PrometheusMetric("mayfly_server_intermediate_expiry_seconds", "gauge",
                       "Unix time at which this replica's signing "
                       "intermediate expires.",
                       TimestampSeconds(signing->signer.NotAfter())),
      PrometheusMetric("mayfly_server_svid_expiry_seconds", "gauge",
                       "Unix time at which this replica's own TLS SVID "
                       "expires.",
                       TimestampSeconds(server_svid_not_after)),
      PrometheusMetric("mayfly_server_bundle_root_earliest_expiry_seconds",
                       "gauge",
                       "Unix time at which the first root of the bundle "
                       "agents are sent expires (0 if none).",
                       TimestampSeconds(earliest_root)),
      PrometheusMetric("mayfly_server_svids_signed_total", "counter",
                       "X.509-SVIDs signed for workloads (SignX509).",
                       node.svids_signed),
      PrometheusMetric("mayfly_server_sign_refusals_total", "counter",
                       "SignX509 CSRs and calls, and SignJwt calls, "
                       "refused.",
                       node.sign_refusals),
      PrometheusMetric("mayfly_server_sync_streams", "gauge",
                       "Sync streams open on this replica.", node.sync_streams),
      PrometheusMetric("mayfly_server_attested_agents", "gauge",
                       "Agents attested and not evicted (the store's, all "
                       "replicas).",
                       agents.attested),
      PrometheusMetric("mayfly_server_evicted_agents", "gauge",
                       "Agents evicted (the store's, all replicas).",
                       agents.evicted),
      PrometheusMetric("mayfly_server_store_errors_total", "counter",
                       "Store calls and watches that failed.", kv_->errors()));
}

}  // namespace mayfly::server
