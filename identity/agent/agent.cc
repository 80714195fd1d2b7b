// The agent's wiring and main loop: see agent.h.
#include "identity/agent/agent.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/log/log.h"
#include "identity/root_rotation.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

using metrics::PrometheusMetric;

// The CA directory inside the state directory.
constexpr char kCaSubdir[] = "/ca";
// The authority re-reads the upstream bundle this often; a root rotation's
// new bundle reaches workloads within it.
constexpr absl::Duration kAuthorityRefreshInterval = absl::Seconds(2);

sigset_t AgentSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockAgentSignals() {
  const sigset_t set = AgentSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<std::vector<RegistrationEntry>> ToRegistrationEntries(
    const std::vector<EntryConfig>& entries) {
  std::vector<RegistrationEntry> out;
  out.reserve(entries.size());
  for (const EntryConfig& e : entries) {
    RegistrationEntry r{e.spiffe_id, e.selectors, e.ttl,   e.dns_names,
                        e.hint,      {},          e.source};
    if (!e.subject.empty()) {
      absl::StatusOr<identity::Subject> subject =
          ExpandSubject(e.subject, e.spiffe_id);
      if (!subject.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(e.source, ": subject: ", subject.status().message()));
      }
      r.subject = *std::move(subject);
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(
    const AgentConfig& config, const std::string& config_path,
    const identity::Clock& clock) {
  std::unique_ptr<Agent> agent(new Agent(config, clock));
  RETURN_IF_ERROR(identity::EnsurePrivateDir(config.state_dir));
  if (config.server.has_value()) {
    RETURN_IF_ERROR(agent->CreateServerMode());
    return agent;
  }

  if (!config.entries_file.empty()) {
    agent->store_ = std::make_unique<FileEntryStore>(
        config.entries_file, /*is_config=*/false, config.trust_domain);
  } else if (!config_path.empty()) {
    agent->store_ = std::make_unique<FileEntryStore>(
        config_path, /*is_config=*/true, config.trust_domain);
  } else {
    agent->store_ = std::make_unique<StaticEntryStore>(config.entries);
  }
  // The first load must succeed: there is no old list to fall back on.
  ASSIGN_OR_RETURN(std::vector<EntryConfig> entries, agent->store_->Load());
  ASSIGN_OR_RETURN(std::vector<RegistrationEntry> registration,
                   ToRegistrationEntries(entries));
  const size_t entry_count = entries.size();
  std::vector<EntryConfig>().swap(entries);  // freed before the trim below

  ASSIGN_OR_RETURN(auto upstream,
                   DiskUpstreamAuthority::Open(config.state_dir + kCaSubdir,
                                               config.trust_domain, clock));
  ASSIGN_OR_RETURN(
      agent->authority_,
      Authority::Create(std::move(upstream), config.intermediate_ttl, clock));
  agent->registry_ = std::make_unique<Registry>(clock, config.default_ttl);
  agent->registry_->SetEntries(std::move(registration));
  // yaml-cpp's node tree takes several times what the entries keep (about
  // 3 KB per entry against 0.5 KB): hand the freed heap back, as a reload
  // does, or a node started with many entries keeps it for good.
  malloc_trim(0);
  agent->registry_->SetSigningState(agent->authority_->Current());
  RETURN_IF_ERROR(agent->StartServing());
  LogInfo("agent_started",
          {{"trust_domain", config.trust_domain.name()},
           {"socket", config.socket_path},
           {"state_dir", config.state_dir},
           {"entries", std::to_string(entry_count)},
           {"entries_from", agent->store_->Describe()},
           {"metrics_port", std::to_string(agent->metrics_port())}});
  return agent;
}

absl::Status Agent::StartServing() {
  const AgentConfig& config = config_;
  const identity::Clock& clock = clock_;
  Agent* agent = this;
  const AgentLimits& limits = config.limits;
  agent->callers_ = std::make_unique<CallerTable>(
      CallerLimits{limits.max_connections, limits.max_connections_per_uid,
                   limits.max_streams_per_caller,
                   limits.requests_per_second_per_caller, limits.request_burst,
                   limits.idle_connection_timeout},
      clock);
  agent->attestor_ =
      std::make_unique<UnixAttestor>(limits.max_hash_bytes, clock);
  ASSIGN_OR_RETURN(agent->exit_watcher_, ExitWatcher::Start());
  agent->service_ = std::make_unique<WorkloadApiService>(
      *agent->registry_, *agent->callers_, *agent->attestor_,
      *agent->exit_watcher_, clock);
  if (agent->authority_ != nullptr) {
    agent->service_->SetSigningState(agent->authority_->Current());
  }
  ASSIGN_OR_RETURN(
      agent->server_,
      WorkloadApiServer::Start(
          ServerOptions{config.socket_path, limits.max_request_bytes,
                        limits.max_response_bytes},
          *agent->service_, *agent->callers_, clock));
  if (!config.metrics_address.empty()) {
    ASSIGN_OR_RETURN(agent->metrics_, metrics::MetricsServer::Start(
                                          config.metrics_address, [agent] {
                                            return agent->RenderMetrics();
                                          }));
  }
  return absl::OkStatus();
}

Agent::~Agent() {
  if (server_agent_ != nullptr) server_agent_->Stop();
  if (server_ != nullptr) server_->Shutdown(kShutdownGrace);
}

absl::Status Agent::ReloadEntries() {
  absl::StatusOr<std::vector<EntryConfig>> entries = store_->Load();
  absl::StatusOr<std::vector<RegistrationEntry>> registration =
      entries.ok()
          ? ToRegistrationEntries(*entries)
          : absl::StatusOr<std::vector<RegistrationEntry>>(entries.status());
  if (!registration.ok()) {
    ++failed_reloads_;
    LogError("entries_reload_failed",
             {{"from", store_->Describe()},
              {"error", std::string(registration.status().message())},
              {"action", "keeping the entries already loaded"}});
    return registration.status();
  }
  const size_t count = registration->size();
  std::vector<EntryConfig>().swap(*entries);  // freed before the trim below
  registry_->SetEntries(*std::move(registration));
  // Parsing a large entry list leaves freed heap behind; hand it back so a
  // reload does not grow the agent for good.
  malloc_trim(0);
  ++reloads_;
  LogInfo("entries_reloaded",
          {{"from", store_->Describe()}, {"entries", std::to_string(count)}});
  return absl::OkStatus();
}

void Agent::RefreshAuthority() {
  absl::StatusOr<std::shared_ptr<const SigningState>> next =
      authority_->Refresh();
  if (!next.ok()) {
    LogError("authority_refresh_failed",
             {{"error", std::string(next.status().message())}});
    return;
  }
  if (*next == nullptr) return;
  Publish(*next);
}

void Agent::Publish(std::shared_ptr<const SigningState> next) {
  LogInfo("signing_state_changed",
          {{"bundle_generation", std::to_string(next->bundle_generation)},
           {"roots", std::to_string(next->bundle.roots().size())},
           {"intermediate_expires",
            absl::FormatTime(absl::RFC3339_sec, next->signer->NotAfter(),
                             absl::UTCTimeZone())}});
  registry_->SetSigningState(next);
  service_->SetSigningState(next);
}

void Agent::AdvanceRootRotation() {
  const std::string dir = config_.state_dir + kCaSubdir;
  absl::StatusOr<identity::RootRotationState> state =
      identity::InspectRootRotation(dir);
  if (!state.ok()) {
    LogError("root_rotation_failed",
             {{"error", std::string(state.status().message())}});
    return;
  }
  const absl::Time now = clock_.Now();
  using Phase = identity::RootRotationState::Phase;
  if (state->phase == Phase::kRetiring && now >= state->drop_after) {
    if (absl::Status s = identity::DropRetiredRoot(dir); !s.ok()) {
      LogError("root_rotation_failed", {{"error", std::string(s.message())}});
      return;
    }
    LogInfo("root_rotation_old_root_dropped");
    RefreshAuthority();
    return;
  }
  if (state->phase != Phase::kPrepared) return;

  absl::StatusOr<bool> repaired = identity::EnsureNextRootInBundle(dir);
  absl::StatusOr<identity::UniqueX509> next = identity::ReadNextRoot(dir);
  if (!repaired.ok() || !next.ok()) {
    LogError(
        "root_rotation_failed",
        {{"error", std::string(repaired.ok() ? next.status().message()
                                             : repaired.status().message())}});
    return;
  }
  std::shared_ptr<const SigningState> current = authority_->Current();
  if (!current->bundle.Contains(**next)) {
    RefreshAuthority();  // publishes the bundle with the next root
    current = authority_->Current();
    if (!current->bundle.Contains(**next)) return;
  }
  if (rotation_generation_ != current->bundle_generation) {
    rotation_generation_ = current->bundle_generation;
    rotation_delivered_at_ = absl::InfiniteDuration();
    LogInfo("root_rotation_bundle_published",
            {{"bundle_generation", std::to_string(rotation_generation_)}});
  }
  const absl::Duration elapsed = clock_.Monotonic();
  if (rotation_delivered_at_ == absl::InfiniteDuration()) {
    if (!service_->AllStreamsHave(rotation_generation_)) return;
    rotation_delivered_at_ = elapsed;
    LogInfo("root_rotation_bundle_delivered",
            {{"bundle_generation", std::to_string(rotation_generation_)}});
  }
  if (elapsed < rotation_delivered_at_ + config_.root_rotation_lead) return;

  // Leaves are capped by their intermediate, and intermediates renew in
  // order, so the current intermediate outlives everything the old root
  // signed.
  const absl::Time drop_after = current->signer->NotAfter();
  if (absl::Status s = identity::PromoteNextRoot(dir, drop_after); !s.ok()) {
    LogError("root_rotation_failed", {{"error", std::string(s.message())}});
    return;
  }
  absl::StatusOr<std::shared_ptr<const SigningState>> renewed =
      authority_->RenewIntermediate();
  if (!renewed.ok()) {
    LogError("root_rotation_failed",
             {{"error", std::string(renewed.status().message())}});
    return;
  }
  LogInfo(
      "root_rotation_switched",
      {{"old_root_dropped_after",
        absl::FormatTime(absl::RFC3339_sec, drop_after, absl::UTCTimeZone())}});
  Publish(*renewed);
}

absl::Duration Agent::Tick(bool force_reload) {
  if (server_agent_ != nullptr) {
    // Renewals are the server agent's; entries arrive on its Sync stream.
    const absl::Time next =
        std::min(server_agent_->Tick(), registry_->RunDue());
    callers_->CloseIdle();
    return std::max(absl::ZeroDuration(),
                    std::min(next - clock_.Now(), kPollInterval));
  }
  const absl::Duration elapsed = clock_.Monotonic();
  if (force_reload || store_->Changed()) {
    // A failed reload is logged; the store reports the change again only
    // when the file changes again.
    ReloadEntries().IgnoreError();
  }
  if (elapsed >= next_authority_refresh_) {
    RefreshAuthority();
    AdvanceRootRotation();
    next_authority_refresh_ = elapsed + kAuthorityRefreshInterval;
  }
  const absl::Time next_renewal = registry_->RunDue();
  if (const int closed = callers_->CloseIdle(); closed > 0) {
    LogInfo("idle_connections_closed", {{"count", std::to_string(closed)}});
  }
  // Renewals are due at wall-clock times (half an SVID's life); the wait for
  // them is cut to kPollInterval, so a wall clock stepped back costs at most
  // that much.
  return std::max(absl::ZeroDuration(),
                  std::min({next_renewal - clock_.Now(), kPollInterval,
                            next_authority_refresh_ - clock_.Monotonic()}));
}

void Agent::Run() {
  const sigset_t signals = AgentSignals();
  bool reload = false;
  while (true) {
    const absl::Duration wait = Tick(reload);
    reload = false;
    const timespec timeout = absl::ToTimespec(wait);
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGHUP) {
      LogInfo("sighup", {{"action", "reloading entries"}});
      reload = true;
    } else if (sig == SIGINT || sig == SIGTERM) {
      LogInfo("shutting_down", {{"signal", strsignal(sig)}});
      server_->Shutdown(kShutdownGrace);
      LogInfo("stopped");
      return;
    }
  }
}

std::string Agent::RenderMetrics() const {
  const Registry::Stats stats = registry_->GetStats();
  const ServiceCounters& c = service_->counters();
  const BundleSummary bundle = SummariseBundle();
  return absl::StrCat(
      PrometheusMetric("mayfly_agent_svids_minted_total", "counter",
                       "X.509-SVIDs minted since start.", stats.svids_minted),
      PrometheusMetric("mayfly_agent_active_streams", "gauge",
                       "Open Workload API streams.", c.active_streams.load()),
      PrometheusMetric("mayfly_agent_stream_messages_superseded_total",
                       "counter",
                       "Stream updates replaced by a newer one before a slow "
                       "client read them.",
                       c.superseded_messages.load()),
      PrometheusMetric("mayfly_agent_attestation_failures_total", "counter",
                       "Calls whose caller could not be attested.",
                       c.attestation_failures.load()),
      PrometheusMetric("mayfly_agent_requests_total", "counter",
                       "Workload API calls received.", c.requests.load()),
      PrometheusMetric("mayfly_agent_rejected_requests_total", "counter",
                       "Calls refused before attestation (header, "
                       "connection, rate limit).",
                       c.rejected_requests.load()),
      PrometheusMetric("mayfly_agent_svid_soonest_expiry_seconds", "gauge",
                       "Unix time at which the first cached SVID expires "
                       "(0 if none).",
                       metrics::TimestampSeconds(stats.soonest_expiry)),
      PrometheusMetric("mayfly_agent_bundle_roots", "gauge",
                       "Roots in the served trust bundle (2 while a root "
                       "rotation is under way).",
                       static_cast<double>(bundle.roots)),
      PrometheusMetric("mayfly_agent_bundle_root_earliest_expiry_seconds",
                       "gauge",
                       "Unix time at which the first root of the served "
                       "trust bundle expires (0 if none).",
                       metrics::TimestampSeconds(bundle.earliest_not_after)),
      PrometheusMetric("mayfly_agent_registration_entries", "gauge",
                       "Registration entries loaded.", stats.entries),
      PrometheusMetric("mayfly_agent_cached_svids", "gauge",
                       "SVIDs held in memory.", stats.cached_svids),
      PrometheusMetric("mayfly_agent_entry_reloads_total", "counter",
                       "Successful entry reloads.", reloads_.load()),
      PrometheusMetric("mayfly_agent_entry_reload_failures_total", "counter",
                       "Entry reloads rejected (old entries kept).",
                       failed_reloads_.load()),
      server_agent_ != nullptr ? server_agent_->RenderMetrics() : "");
}

}  // namespace mayfly::agent
