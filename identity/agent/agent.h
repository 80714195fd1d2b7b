// The agent: config, state directory, authority, registry, entry store,
// Workload API server and metrics wired together, and the loop that drives
// renewals, reloads and shutdown.
//
// Thread-safe where noted; Run() is called once, from the main thread, with
// SIGHUP, SIGINT and SIGTERM blocked in every thread (BlockAgentSignals).
#ifndef MAYFLY_IDENTITY_AGENT_AGENT_H_
#define MAYFLY_IDENTITY_AGENT_AGENT_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "identity/agent/attestor.h"
#include "identity/agent/authority.h"
#include "identity/agent/callers.h"
#include "identity/agent/config.h"
#include "identity/agent/entry_store.h"
#include "identity/agent/process.h"
#include "identity/agent/registry.h"
#include "identity/agent/remote/server_agent.h"
#include "identity/agent/server.h"
#include "identity/agent/workload_api.h"
#include "identity/clock.h"
#include "identity/metrics/metrics_server.h"

namespace mayfly::agent {

// How often the loop looks at the entry store and the upstream bundle when
// nothing else wakes it: a changed entries file is served within this.
inline constexpr absl::Duration kPollInterval = absl::Seconds(1);
// How long SIGTERM waits for in-flight calls before closing them.
inline constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// Blocks SIGHUP, SIGINT and SIGTERM in the calling thread and every thread
// it starts afterwards; Agent::Run receives them with sigtimedwait.
void BlockAgentSignals();

class Agent {
 public:
  // `config_path` is empty for the embedded default config (its entries
  // then never reload).
  static absl::StatusOr<std::unique_ptr<Agent>> Create(
      const AgentConfig& config, const std::string& config_path,
      const identity::Clock& clock);
  ~Agent();

  // Serves until SIGINT or SIGTERM; SIGHUP reloads the entries now.
  void Run();

  // One turn of the loop: renew what is due, reload entries if the store
  // changed (or `force_reload`), refresh the authority. Returns how long
  // until the next turn is needed (at most kPollInterval).
  absl::Duration Tick(bool force_reload);

  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  std::string RenderMetrics() const;

 private:
  Agent(const AgentConfig& config, const identity::Clock& clock)
      : clock_(clock), config_(config) {}

  // The server-mode half of Create.
  absl::Status CreateServerMode();
  // Callers, attestor, Workload API service and server, metrics: what both
  // modes share, started once the registry exists.
  absl::Status StartServing();
  // The served bundle's root count and its roots' soonest NotAfter.
  struct BundleSummary {
    size_t roots = 0;
    absl::Time earliest_not_after = absl::InfiniteFuture();
  };
  BundleSummary SummariseBundle() const;
  absl::Status ReloadEntries();
  void RefreshAuthority();
  void Publish(std::shared_ptr<const SigningState> state);
  // Moves a root rotation on (root_rotation.h): promote the next root once
  // every watcher has had the bundle carrying it for root_rotation_lead,
  // drop the old root once nothing it signed is valid.
  void AdvanceRootRotation();

  const identity::Clock& clock_;
  const AgentConfig config_;
  // Single-node mode: entries from a store, SVIDs minted by the authority.
  std::unique_ptr<EntryStore> store_;
  std::unique_ptr<Authority> authority_;
  // Server mode: both from mayfly-server. Before registry_, which draws on
  // its SVID source.
  std::unique_ptr<remote::ServerAgent> server_agent_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<CallerTable> callers_;
  std::unique_ptr<UnixAttestor> attestor_;
  // Before service_: the service's streams hold watches on it.
  std::unique_ptr<ExitWatcher> exit_watcher_;
  std::unique_ptr<WorkloadApiService> service_;
  std::unique_ptr<WorkloadApiServer> server_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  // Intervals, on clock_.Monotonic(), so that a wall-clock step neither
  // holds them up nor cuts them short. What certificates say (renewal and
  // drop times) stays on the wall clock.
  absl::Duration next_authority_refresh_ = -absl::InfiniteDuration();
  // The bundle generation that first carried the next root, and when every
  // stream had received it.
  uint64_t rotation_generation_ = 0;
  absl::Duration rotation_delivered_at_ = absl::InfiniteDuration();
  // Read by the metrics thread.
  std::atomic<int64_t> reloads_{0};
  // Server mode: roots in the last bundle published, and their soonest
  // NotAfter (Unix seconds, as certificates carry; 0 before the first).
  std::atomic<size_t> server_bundle_roots_{0};
  std::atomic<int64_t> server_bundle_earliest_unix_{0};
  std::atomic<int64_t> failed_reloads_{0};
};

// Converts validated config entries to the registry's form (subjects
// expanded, selectors as canonical strings).
absl::StatusOr<std::vector<RegistrationEntry>> ToRegistrationEntries(
    const std::vector<EntryConfig>& entries);

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_AGENT_H_
