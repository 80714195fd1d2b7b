// Report: what the fleet bench measures between two points in time
// (Snapshot: the servers' and etcd members' CPU, etcd's request counters,
// the fleet's counters) and how it prints each figure, one line each:
//   fleet-bench: NAME = VALUE UNIT
// Failed calls are counted by message and printed with the figures; a run
// with any is a failed run (Finish returns 1).
//
// Thread-safe: Failure may be called from any thread.
#ifndef MAYFLY_TESTS_BENCH_FLEET_FLEET_REPORT_H_
#define MAYFLY_TESTS_BENCH_FLEET_FLEET_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/bench/fleet/sim_agent.h"

namespace mayfly::bench {

struct Snapshot {
  absl::Time at;
  std::vector<double> server_cpu_s;
  std::vector<double> etcd_cpu_s;
  std::vector<long> server_rss_kb;
  std::map<std::string, double> etcd_handled;  // by method, all members
  int64_t svids_first = 0, svids_renewed = 0, sign_calls = 0;
  int64_t agent_renewals = 0, sync_messages = 0, sync_bytes = 0;
};

class Report {
 public:
  Report(std::vector<int> server_pids, std::vector<int> etcd_pids,
         std::vector<int> etcd_ports)
      : server_pids_(std::move(server_pids)),
        etcd_pids_(std::move(etcd_pids)),
        etcd_ports_(std::move(etcd_ports)) {}

  Snapshot Take(const FleetCounters* counters = nullptr);
  void Failure(const std::string& what, const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);

  void Load(const Snapshot& a, const Snapshot& b, int64_t entries,
            int64_t failed);
  void ColdStart(const Snapshot& a, const Snapshot& b, int agents,
                 std::vector<double> done_ms, const FleetCounters& counters);
  // A steady-state window with `changes` registrations made in it.
  void Window(const std::string& name, const Snapshot& a, const Snapshot& b,
              int64_t changes);
  void Registration(std::vector<double> ms, std::vector<double> cross_ms,
                    int64_t changes, int64_t missing);
  void Renewals(const Snapshot& a, const Snapshot& b,
                const FleetCounters& counters);
  void Rss();
  // Prints the failures; 0 if there were none, else 1.
  int Finish(const FleetCounters& counters) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Figure(const std::string& name, double value, const std::string& unit,
              int precision = 0);
  double StoreRate(const Snapshot& a, const Snapshot& b) const;

  const std::vector<int> server_pids_;
  const std::vector<int> etcd_pids_;
  const std::vector<int> etcd_ports_;
  double no_change_store_rate_ = -1;
  absl::Mutex mu_;
  std::map<std::string, int64_t> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_FLEET_REPORT_H_
