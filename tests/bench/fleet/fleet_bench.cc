// The fleet bench: N simulated agents (sim_agent.h), each with M entries,
// against mayfly-server replicas on etcd. tests/bench/run_fleet_bench.sh
// starts etcd and the replicas and runs this; it prints one line per figure
// ("fleet-bench: NAME = VALUE UNIT") and exits 1 if any call failed.
//
// Phases: join tokens; the N x M entries, loaded in parallel through both
// admin sockets; a cold start of all agents at once (attest, Sync, every
// entry's SVID signed); once renewals are under way, a window with no
// registration changes and a window with `change_rate` new entries a
// second (each timed from before its CreateEntry to its arrival on its
// agent's Sync stream); then RSS. Store requests are etcd's own counters,
// CPU and RSS come from /proc.
#include <algorithm>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "tests/bench/fleet/counting_proxy.h"
#include "tests/bench/fleet/fleet_admin.h"
#include "tests/bench/fleet/fleet_report.h"
#include "tests/bench/fleet/probes.h"
#include "tests/bench/fleet/scheduler.h"
#include "tests/bench/fleet/sim_agent.h"

ABSL_FLAG(std::string, trust_domain, "example.org",
          "the servers' trust domain");
ABSL_FLAG(std::string, bundle, "", "PEM roots the servers chain to");
ABSL_FLAG(std::vector<std::string>, servers, {}, "Node API ports, 127.0.0.1");
ABSL_FLAG(std::vector<std::string>, admin_sockets, {}, "admin sockets");
ABSL_FLAG(std::vector<std::string>, server_pids, {}, "the replicas' pids");
ABSL_FLAG(std::vector<std::string>, etcd_ports, {}, "etcd client ports");
ABSL_FLAG(std::vector<std::string>, etcd_pids, {}, "etcd members' pids");
ABSL_FLAG(int, agents, 100, "simulated agents");
ABSL_FLAG(int, entries_per_agent, 10, "entries parented to each agent");
ABSL_FLAG(int, entry_ttl_s, 20, "X.509-SVID TTL of the entries");
ABSL_FLAG(int, window_s, 10, "length of each steady-state window");
ABSL_FLAG(double, change_rate, 5, "new entries a second in the second window");
ABSL_FLAG(int, load_threads, 32, "CreateEntry calls in flight while loading");
ABSL_FLAG(int, workers, 16, "threads signing for the agents");
ABSL_FLAG(int, cold_timeout_s, 120, "bound on the cold start");

namespace mayfly::bench {
namespace {

namespace pb = ::mayfly::server::v1;

std::vector<int> Ints(const std::vector<std::string>& in) {
  std::vector<int> out;
  for (const std::string& s : in) {
    int v = 0;
    if (absl::SimpleAtoi(s, &v)) out.push_back(v);
  }
  return out;
}

struct ProbeTimes {
  absl::Mutex mu;
  std::map<std::string, absl::Time> started ABSL_GUARDED_BY(mu);
  std::vector<double> ms ABSL_GUARDED_BY(mu);
  std::vector<double> cross_ms ABSL_GUARDED_BY(mu);
  std::map<std::string, bool> cross ABSL_GUARDED_BY(mu);
};

int Run() {
  const identity::Clock& clock = identity::RealClock();
  const std::vector<int> server_ports = Ints(absl::GetFlag(FLAGS_servers));
  const std::vector<int> server_pids = Ints(absl::GetFlag(FLAGS_server_pids));
  const std::vector<int> etcd_ports = Ints(absl::GetFlag(FLAGS_etcd_ports));
  const std::vector<int> etcd_pids = Ints(absl::GetFlag(FLAGS_etcd_pids));
  const int n = absl::GetFlag(FLAGS_agents);
  const int m = absl::GetFlag(FLAGS_entries_per_agent);
  const std::string td = absl::GetFlag(FLAGS_trust_domain);
  absl::StatusOr<identity::TrustDomain> trust_domain =
      identity::TrustDomain::FromString(td);
  absl::StatusOr<agent::remote::ServerTrust> trust =
      trust_domain.ok() ? agent::remote::ServerTrust::Load(
                              *trust_domain, absl::GetFlag(FLAGS_bundle), "")
                        : trust_domain.status();
  if (!trust.ok() || server_ports.empty() ||
      absl::GetFlag(FLAGS_admin_sockets).size() != server_ports.size()) {
    std::fprintf(stderr, "fleet-bench: bad flags: %s\n",
                 trust.status().ToString().c_str());
    return 2;
  }
  auto shared_trust = std::make_shared<const agent::remote::ServerTrustSource>(
      *std::move(trust));
  Report report(server_pids, etcd_pids, etcd_ports);
  FleetAdmin admin(absl::GetFlag(FLAGS_admin_sockets));

  // --- tokens and entries ---------------------------------------------------
  absl::StatusOr<std::vector<FleetAdmin::Token>> tokens =
      admin.MakeTokens(n, 16);
  if (!tokens.ok()) {
    std::fprintf(stderr, "fleet-bench: %s\n",
                 tokens.status().ToString().c_str());
    return 1;
  }
  std::vector<pb::Entry> entries;
  entries.reserve(static_cast<size_t>(n) * m);
  for (int j = 0; j < m; ++j) {
    for (int i = 0; i < n; ++i) {
      pb::Entry e;
      e.set_parent_id((*tokens)[i].agent_id);
      e.set_spiffe_id(absl::StrCat("spiffe://", td, "/fleet/a", i, "/e", j));
      e.add_selectors("unix:uid:1000");
      e.set_ttl_seconds(absl::GetFlag(FLAGS_entry_ttl_s));
      entries.push_back(std::move(e));
    }
  }
  Snapshot before_load = report.Take();
  const int64_t load_failed =
      admin.CreateEntries(entries, absl::GetFlag(FLAGS_load_threads));
  Snapshot after_load = report.Take();
  report.Load(before_load, after_load, static_cast<int64_t>(entries.size()),
              load_failed);

  // --- the fleet ------------------------------------------------------------
  FleetCounters counters;
  std::vector<std::unique_ptr<CountingProxy>> proxies;
  for (int port : server_ports) {
    absl::StatusOr<std::unique_ptr<CountingProxy>> p =
        CountingProxy::Start(port);
    if (!p.ok()) {
      std::fprintf(stderr, "fleet-bench: %s\n", p.status().ToString().c_str());
      return 1;
    }
    proxies.push_back(*std::move(p));
  }
  ProbeTimes probes;
  absl::Mutex done_mu;
  std::vector<double> done_ms;
  const absl::Time cold_start = clock.Now();
  std::vector<std::unique_ptr<SimAgent>> agents;
  std::unique_ptr<Scheduler> scheduler;
  for (int i = 0; i < n; ++i) {
    SimAgentOptions o;
    const size_t replica = i % server_ports.size();
    // The first agent on each replica goes through a counting proxy.
    const bool probe = i < static_cast<int>(server_ports.size());
    o.address = absl::StrCat(
        "127.0.0.1:", probe ? proxies[replica]->port() : server_ports[replica]);
    if (probe)
      o.wire_bytes = [p = proxies[replica].get()] { return p->bytes(); };
    o.token = (*tokens)[i].token;
    o.trust = shared_trust;
    o.expected_entries = m;
    o.on_all_signed = [&, cold_start](absl::Time t) {
      absl::MutexLock lock(&done_mu);
      done_ms.push_back(absl::ToDoubleMilliseconds(t - cold_start));
    };
    o.on_new_entry = [&probes](const std::string& id, absl::Time t) {
      absl::MutexLock lock(&probes.mu);
      auto it = probes.started.find(id);
      if (it == probes.started.end()) return;
      const double ms = absl::ToDoubleMilliseconds(t - it->second);
      probes.ms.push_back(ms);
      if (probes.cross[id]) probes.cross_ms.push_back(ms);
      probes.started.erase(it);
    };
    o.wake = [&scheduler, i] { scheduler->Wake(i); };
    agents.push_back(std::make_unique<SimAgent>(std::move(o), counters, clock));
  }
  scheduler = std::make_unique<Scheduler>(
      n, absl::GetFlag(FLAGS_workers),
      [&](int i) {
        absl::Status s = agents[i]->Work();
        if (!s.ok()) report.Failure("work", s);
      },
      [&](int i) { return agents[i]->NextDue(); });
  Snapshot before_cold = report.Take();
  std::atomic<bool> stopping{false};
  std::vector<std::thread> sync_threads;
  // As a real agent: attest again after a failure (a TLS handshake that
  // timed out on a saturated machine), with backoff, until the cold start's
  // bound; each failure is counted. A refused token is final.
  const absl::Time attest_deadline =
      cold_start + absl::Seconds(absl::GetFlag(FLAGS_cold_timeout_s));
  for (int i = 0; i < n; ++i) {
    sync_threads.emplace_back([&, i] {
      absl::Duration backoff = absl::Seconds(1);
      absl::Status s = agents[i]->Attest();
      while (!s.ok() && !stopping && !absl::IsPermissionDenied(s) &&
             clock.Now() + backoff < attest_deadline) {
        report.Failure("attest", s);
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(8));
        s = agents[i]->Attest();
      }
      if (!s.ok()) {
        report.Failure("attest, gave up", s);
        return;
      }
      // A stream that ends is reopened with the same backoff: while gRPC
      // backs off a connection that failed, a call fails at once.
      backoff = absl::Seconds(1);
      while (!stopping) {
        const absl::Time opened = clock.Now();
        s = agents[i]->RunSync();
        if (stopping) break;
        report.Failure("sync", s);
        if (clock.Now() - opened > absl::Minutes(1)) backoff = absl::Seconds(1);
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(8));
      }
    });
  }
  const absl::Time cold_deadline = attest_deadline;
  absl::Time next_progress = cold_start + absl::Seconds(10);
  for (;;) {
    int done;
    {
      absl::MutexLock lock(&done_mu);
      done = static_cast<int>(done_ms.size());
    }
    if (done == n || clock.Now() > cold_deadline) break;
    if (clock.Now() >= next_progress) {
      next_progress += absl::Seconds(10);
      std::fprintf(stderr,
                   "fleet-bench: cold start %.0f s: %lld attested, %lld SVIDs,"
                   " %d agents served\n",
                   absl::ToDoubleSeconds(clock.Now() - cold_start),
                   static_cast<long long>(counters.attested.load()),
                   static_cast<long long>(counters.svids_first.load()), done);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Snapshot after_cold = report.Take();
  {
    absl::MutexLock lock(&done_mu);
    report.ColdStart(before_cold, after_cold, n, done_ms, counters);
  }

  // --- steady state
  // -----------------------------------------------------------
  const absl::Time renew_deadline =
      clock.Now() + absl::Seconds(absl::GetFlag(FLAGS_entry_ttl_s));
  while (counters.svids_renewed == 0 && clock.Now() < renew_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  counters.count_probe_bytes = true;
  const absl::Duration window = absl::Seconds(absl::GetFlag(FLAGS_window_s));
  Snapshot a0 = report.Take(&counters);
  absl::SleepFor(window);
  Snapshot a1 = report.Take(&counters);
  report.Window("no changes", a0, a1, 0);

  const double rate = absl::GetFlag(FLAGS_change_rate);
  int64_t changes = 0, change_failures = 0;
  Snapshot b0 = report.Take(&counters);
  const absl::Time b_start = clock.Now();
  for (int64_t p = 0; rate > 0; ++p) {
    const absl::Time at = b_start + absl::Seconds(p / rate);
    if (at >= b_start + window) break;
    absl::SleepFor(at - clock.Now());
    const int target = static_cast<int>((p * 7919) % n);
    // Agents alternate over the replicas (i % replicas), targets keep p's
    // parity: (p / 2) puts every other probe on the agent's other replica.
    const size_t replica = static_cast<size_t>((p / 2) % server_ports.size());
    pb::Entry e;
    e.set_parent_id((*tokens)[target].agent_id);
    e.set_spiffe_id(absl::StrCat("spiffe://", td, "/fleet/probe/", p));
    e.add_selectors("unix:uid:1001");
    e.set_ttl_seconds(absl::GetFlag(FLAGS_entry_ttl_s));
    {
      absl::MutexLock lock(&probes.mu);
      probes.started[e.spiffe_id()] = clock.Now();
      probes.cross[e.spiffe_id()] = replica != target % server_ports.size();
    }
    absl::StatusOr<pb::Entry> created = admin.CreateEntry(replica, e);
    ++changes;
    if (!created.ok()) {
      ++change_failures;
      report.Failure("probe create", created.status());
    }
  }
  absl::SleepFor(b_start + window - clock.Now());
  Snapshot b1 = report.Take(&counters);
  report.Window("changes", b0, b1, changes);
  // Stragglers get up to 5 s more to arrive.
  const absl::Time probe_deadline = clock.Now() + absl::Seconds(5);
  for (;;) {
    {
      absl::MutexLock lock(&probes.mu);
      if (static_cast<int64_t>(probes.ms.size()) + change_failures >= changes ||
          clock.Now() > probe_deadline) {
        report.Registration(probes.ms, probes.cross_ms, changes,
                            static_cast<int64_t>(probes.started.size()));
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  report.Renewals(a0, b1, counters);
  report.Rss();

  stopping = true;
  scheduler->Stop();
  for (auto& a : agents) a->Stop();
  for (std::thread& t : sync_threads) t.join();
  return report.Finish(counters);
}

}  // namespace
}  // namespace mayfly::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return mayfly::bench::Run();
}
