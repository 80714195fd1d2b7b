// Server mode, the agent's side: see server_agent.h.
#include "identity/agent/remote/server_agent.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "identity/agent/remote/x509pop.h"
#include "identity/bundle.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/jwt.h"
#include "identity/keys.h"
#include "identity/log/log.h"
#include "identity/metrics/metrics_server.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::agent::remote {
namespace {

namespace pb = ::mayfly::server::v1;
using ::mayfly::metrics::PrometheusMetric;

// How long Tick waits after a failed renewal before the next try: short
// against SVID lifetimes of minutes, long enough not to spin on an outage.
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(1);

std::string TimeText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerAgent>> ServerAgent::Create(
    const AgentConfig& config, const identity::Clock& clock) {
  if (!config.server.has_value()) {
    return absl::InvalidArgumentError("the config has no server: block");
  }
  std::unique_ptr<ServerAgent> agent(new ServerAgent(config, clock));
  const ServerConfig& server = *config.server;
  ASSIGN_OR_RETURN(ServerTrust trust,
                   ServerTrust::Load(config.trust_domain, server.bundle_file,
                                     server.root_sha256));
  RETURN_IF_ERROR(identity::EnsurePrivateDir(config.state_dir));
  ASSIGN_OR_RETURN(agent->cache_, StateCache::Open(config.state_dir));
  agent->trust_ = std::make_shared<ServerTrustSource>(std::move(trust));
  agent->connection_ =
      std::make_unique<NodeConnection>(server.addresses, agent->trust_, clock);
  NodeConnection* connection = agent->connection_.get();
  ServerAgent* self = agent.get();  // owns the source
  agent->source_ = std::make_unique<RemoteSvidSource>(
      [connection, self](const pb::SignX509Request& request) {
        absl::StatusOr<pb::SignX509Response> response =
            connection->SignX509(request);
        if (response.ok()) self->NoteSigningRoot(*response);
        return response;
      },
      agent->cache_.get(), clock);
  // A valid agent SVID from the last run spares a join token (used once).
  absl::StatusOr<cachepb::AgentIdentity> saved = agent->cache_->LoadAgent();
  if (saved.ok() &&
      absl::FromUnixSeconds(saved->not_after_unix()) > clock.Now()) {
    absl::StatusOr<identity::UniqueEvpPkey> key =
        identity::PrivateKeyFromPkcs8Der(saved->key_der());
    if (key.ok()) {
      pb::AgentSvid svid;
      svid.set_spiffe_id(saved->spiffe_id());
      *svid.mutable_chain() = saved->chain();
      svid.set_not_after_unix(saved->not_after_unix());
      RETURN_IF_ERROR(agent->AdoptIdentity(svid, **key));
    }
  }
  return agent;
}

ServerAgent::~ServerAgent() { Stop(); }

void ServerAgent::Start(Registry& registry, Publish publish) {
  registry_ = &registry;
  publish_ = std::move(publish);
  ServeCache();
  sync_thread_ = std::thread([this] { SyncLoop(); });
}

void ServerAgent::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // Null when Create failed before making it (a bad server: block).
  if (connection_ != nullptr) connection_->Cancel();
  if (sync_thread_.joinable()) sync_thread_.join();
}

void ServerAgent::ServeCache() {
  absl::StatusOr<pb::SyncResponse> saved = cache_->LoadSync();
  if (!saved.ok()) return;
  Apply(*saved, /*fetch=*/false);
  LogInfo("server_cache_loaded",
          {{"entries", std::to_string(saved->entries_size())},
           {"svids", std::to_string(source_->GetStats().held)},
           {"revision", std::to_string(saved->revision())}});
}

void ServerAgent::Observe(const absl::Status& status) {
  const absl::StatusCode code = status.code();
  if (code == absl::StatusCode::kPermissionDenied) {
    {
      absl::MutexLock lock(&mu_);
      if (!evicted_.empty()) return;
      evicted_ = std::string(status.message());
    }
    LogError("agent_evicted", {{"error", std::string(status.message())},
                               {"action", "serving no SVID from now on"}});
    source_->SetEvicted(absl::StrCat(
        "this agent was refused by mayfly-server: ", status.message()));
    if (registry_ != nullptr) registry_->SvidsChanged({});
    return;
  }
  const bool unreachable = code == absl::StatusCode::kUnavailable ||
                           code == absl::StatusCode::kDeadlineExceeded;
  absl::Time since;
  {
    absl::MutexLock lock(&mu_);
    if (unreachable == (unreachable_since_ != absl::InfiniteFuture())) return;
    if (!unreachable && !status.ok()) return;  // an answer, not an outage
    unreachable_since_ = unreachable ? clock_.Now() : absl::InfiniteFuture();
    since = unreachable_since_;
  }
  source_->SetUnreachableSince(since);
  if (unreachable) {
    LogWarn("server_unreachable", {{"error", std::string(status.message())},
                                   {"health", Health()},
                                   {"action", "serving what is still valid"}});
  } else {
    LogInfo("server_reachable", {{"server", connection_->CurrentAddress()}});
  }
}

void ServerAgent::SyncLoop() {
  absl::Duration backoff = kMinBackoff;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::Status status = EnsureIdentity();
    if (status.ok()) {
      pb::SyncRequest request;
      {
        absl::MutexLock lock(&mu_);
        if (!evicted_.empty()) return;
        request.set_known_revision(revision_);
      }
      status = connection_->Sync(request, [&](const pb::SyncResponse& r) {
        backoff = kMinBackoff;
        OnSync(r);
      });
      Observe(status);
    }
    absl::MutexLock lock(&mu_);
    if (stopping_ || !evicted_.empty()) return;
    LogDebug("sync_reconnect", {{"error", std::string(status.message())}});
    // Woken at once by Stop; otherwise a bounded backoff between tries.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void ServerAgent::OnSync(const pb::SyncResponse& response) {
  Observe(absl::OkStatus());
  Apply(response, /*fetch=*/true);
  if (absl::Status s = cache_->SaveSync(response); !s.ok()) {
    LogWarn("sync_cache_write_failed", {{"error", std::string(s.message())}});
  }
}

void ServerAgent::Apply(const pb::SyncResponse& response, bool fetch) {
  std::vector<RegistrationEntry> entries;
  for (const pb::Entry& e : response.entries()) {
    absl::StatusOr<RegistrationEntry> entry =
        FromServerEntry(e, config_.trust_domain);
    if (!entry.ok()) {
      LogWarn("server_entry_skipped",
              {{"error", std::string(entry.status().message())}});
      continue;
    }
    entries.push_back(*std::move(entry));
  }
  // The bundle first: SVIDs of new entries may chain to a new root.
  std::string der;
  for (const std::string& root : response.bundle().x509_roots()) der += root;
  const std::string bundle_key = der + response.bundle().jwt_jwks();
  bool bundle_changed;
  {
    absl::MutexLock lock(&mu_);
    revision_ = response.revision();
    ++syncs_;
    bundle_changed = bundle_key != last_bundle_;
  }
  if (bundle_changed) {
    absl::StatusOr<std::shared_ptr<SigningState>> state =
        BundleState(response.bundle(), der);
    if (!state.ok()) {
      // Workloads keep the bundle they have rather than get a broken one.
      LogError("server_bundle_refused",
               {{"error", std::string(state.status().message())}});
    } else {
      {
        absl::MutexLock lock(&mu_);
        (*state)->bundle_generation = ++bundle_generation_;
        last_bundle_ = bundle_key;
      }
      LearnServerRoots((*state)->bundle, fetch ? "sync" : "cache");
      publish_(*std::move(state));
    }
  }
  absl::StatusOr<std::vector<std::string>> changed;
  if (fetch) {
    changed = source_->Update(entries);
    if (!changed.ok()) Observe(changed.status());
  } else {
    source_->LoadFromDisk(entries);
  }
  const size_t count = entries.size();
  registry_->SetEntries(std::move(entries));
  if (changed.ok() && !changed->empty()) registry_->SvidsChanged(*changed);
  LogInfo("server_entries_applied",
          {{"entries", std::to_string(count)},
           {"revision", std::to_string(response.revision())}});
}

absl::StatusOr<std::shared_ptr<SigningState>> ServerAgent::BundleState(
    const pb::Bundle& bundle, const std::string& roots_der) const {
  if (bundle.trust_domain() != config_.trust_domain.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the server sent a bundle for \"", bundle.trust_domain(),
                     "\", not \"", config_.trust_domain.name(), "\""));
  }
  ASSIGN_OR_RETURN(
      identity::X509Bundle x509,
      identity::X509Bundle::FromDer(config_.trust_domain, roots_der));
  if (x509.empty()) {
    return absl::InvalidArgumentError("the server sent an empty bundle");
  }
  auto state = std::make_shared<SigningState>(
      SigningState{nullptr, "", std::move(x509)});
  state->bundle_der = state->bundle.ToDer();
  if (!bundle.jwt_jwks().empty()) {
    ASSIGN_OR_RETURN(
        identity::JwtBundle jwt,
        identity::JwtBundle::FromJwks(config_.trust_domain, bundle.jwt_jwks()));
    state->jwt_bundle =
        std::make_shared<const identity::JwtBundle>(std::move(jwt));
    state->jwt_bundle_jwks = bundle.jwt_jwks();
  }
  return state;
}

void ServerAgent::LearnServerRoots(const identity::X509Bundle& roots,
                                   absl::string_view from) {
  absl::StatusOr<bool> changed = trust_->Learn(roots);
  if (!changed.ok()) {
    LogWarn("server_trust_refused",
            {{"from", std::string(from)},
             {"error", std::string(changed.status().message())}});
  } else if (*changed) {
    LogInfo("server_trust_updated",
            {{"from", std::string(from)},
             {"roots", std::to_string(roots.roots().size())}});
  }
}

absl::Time ServerAgent::Tick() {
  if (absl::Status s = RenewIdentity(); !s.ok()) {
    LogWarn("agent_svid_renewal_failed", {{"error", std::string(s.message())}});
  }
  {
    absl::MutexLock lock(&mu_);
    if (!evicted_.empty() || !has_identity_) return absl::InfiniteFuture();
  }
  absl::StatusOr<std::vector<std::string>> changed = source_->RenewDue();
  Observe(changed.status());
  if (!changed.ok()) {
    LogWarn("svid_renewal_failed",
            {{"error", std::string(changed.status().message())}});
    return clock_.Now() + kRetryAfterFailure;
  }
  if (!changed->empty()) registry_->SvidsChanged(*changed);
  const absl::Time next = source_->NextRenewal();
  absl::MutexLock lock(&mu_);
  return std::min(next, identity_renew_at_);
}

absl::StatusOr<std::string> ServerAgent::SignJwt(
    const RegistrationEntry& entry, const std::vector<std::string>& audience) {
  {
    absl::MutexLock lock(&mu_);
    if (!evicted_.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("this agent was refused by mayfly-server: ", evicted_));
    }
  }
  pb::SignJwtRequest request;
  request.set_entry_id(entry.entry_id);
  for (const std::string& a : audience) request.add_audience(a);
  absl::StatusOr<pb::SignJwtResponse> response = connection_->SignJwt(request);
  Observe(response.status());
  if (!response.ok()) {
    // The workload's retry will reach the server again; say why it failed.
    return absl::Status(
        response.status().code(),
        absl::StrCat("mayfly-server could not sign a JWT-SVID: ",
                     response.status().message()));
  }
  return response->token();
}

std::string ServerAgent::Health() const {
  absl::MutexLock lock(&mu_);
  if (!evicted_.empty()) return absl::StrCat("evicted: ", evicted_);
  if (unreachable_since_ != absl::InfiniteFuture()) {
    return absl::StrCat("serving from cache, server unreachable since ",
                        TimeText(unreachable_since_));
  }
  return "ok";
}

std::string ServerAgent::RenderMetrics() const {
  const RemoteSvidSource::Stats stats = source_->GetStats();
  absl::MutexLock lock(&mu_);
  const bool reachable = unreachable_since_ == absl::InfiniteFuture();
  return absl::StrCat(
      PrometheusMetric("mayfly_agent_server_reachable", "gauge",
                       "1 while a mayfly-server replica answers.",
                       reachable ? 1 : 0),
      PrometheusMetric(
          "mayfly_agent_server_unreachable_since_seconds", "gauge",
          "Unix time since which no server answered (0 if one does).",
          reachable
              ? 0.0
              : static_cast<double>(absl::ToUnixSeconds(unreachable_since_))),
      PrometheusMetric("mayfly_agent_evicted", "gauge",
                       "1 once the server refused this agent.",
                       evicted_.empty() ? 0 : 1),
      PrometheusMetric("mayfly_agent_server_syncs_total", "counter",
                       "SyncResponses applied.", syncs_),
      PrometheusMetric("mayfly_agent_server_signed_svids_total", "counter",
                       "X.509-SVIDs signed by the server for this agent.",
                       stats.signed_total),
      PrometheusMetric("mayfly_agent_server_sign_calls_total", "counter",
                       "SignX509 calls (each a batch).", stats.sign_calls),
      PrometheusMetric("mayfly_agent_server_last_sign_seconds", "gauge",
                       "Unix time of the last SignX509 call that succeeded "
                       "(0 if none).",
                       metrics::TimestampSeconds(stats.last_signed)),
      PrometheusMetric("mayfly_agent_server_svid_soonest_expiry_seconds",
                       "gauge",
                       "Unix time at which the first SVID held from the "
                       "server expires (0 if none).",
                       metrics::TimestampSeconds(stats.soonest_not_after)),
      PrometheusMetric(
          "mayfly_agent_identity_expiry_seconds", "gauge",
          "Unix time at which this agent's own SVID expires "
          "(0 if it has none).",
          has_identity_ ? metrics::TimestampSeconds(identity_not_after_) : 0.0),
      PrometheusMetric("mayfly_agent_identity_renewed_seconds", "gauge",
                       "Unix time at which the server last attested or "
                       "renewed this agent (0 if not since start).",
                       metrics::TimestampSeconds(identity_renewed_at_)));
}

}  // namespace mayfly::agent::remote
