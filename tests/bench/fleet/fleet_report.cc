// Report: see fleet_report.h.
#include "tests/bench/fleet/fleet_report.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/bench/fleet/probes.h"

namespace mayfly::bench {
namespace {

// Nearest rank.
double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * v.size() + 0.999999);
  rank = std::min(std::max<size_t>(rank, 1), v.size());
  return v[rank - 1];
}

double Sum(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

double Delta(const std::vector<double>& a, const std::vector<double>& b) {
  return Sum(b) - Sum(a);
}

}  // namespace

Snapshot Report::Take(const FleetCounters* counters) {
  Snapshot s;
  s.at = absl::Now();
  for (int pid : server_pids_) {
    s.server_cpu_s.push_back(ProcCpuSeconds(pid));
    s.server_rss_kb.push_back(ProcRssKb(pid));
  }
  for (int pid : etcd_pids_) s.etcd_cpu_s.push_back(ProcCpuSeconds(pid));
  for (int port : etcd_ports_) {
    absl::StatusOr<std::map<std::string, double>> h = EtcdHandledByMethod(port);
    if (!h.ok()) {
      Failure("etcd metrics", h.status());
      continue;
    }
    for (const auto& [method, v] : *h) s.etcd_handled[method] += v;
  }
  if (counters != nullptr) {
    s.svids_first = counters->svids_first;
    s.svids_renewed = counters->svids_renewed;
    s.sign_calls = counters->sign_calls;
    s.agent_renewals = counters->agent_renewals;
    s.sync_messages = counters->sync_messages;
    s.sync_bytes = counters->sync_bytes;
  }
  return s;
}

void Report::Failure(const std::string& what, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  // Grouped by the message's start: messages that quote a time would
  // otherwise make one line each.
  ++failures_[absl::StrCat(what, ": ", absl::StatusCodeToString(status.code()),
                           ": ", status.message().substr(0, 60))];
}

void Report::Figure(const std::string& name, double value,
                    const std::string& unit, int precision) {
  std::printf("fleet-bench: %s = %.*f %s\n", name.c_str(), precision, value,
              unit.c_str());
  std::fflush(stdout);
}

double Report::StoreRate(const Snapshot& a, const Snapshot& b) const {
  double total = 0;
  for (const auto& [method, v] : b.etcd_handled) {
    auto it = a.etcd_handled.find(method);
    total += v - (it == a.etcd_handled.end() ? 0 : it->second);
  }
  return total / absl::ToDoubleSeconds(b.at - a.at);
}

void Report::Load(const Snapshot& a, const Snapshot& b, int64_t entries,
                  int64_t failed) {
  const double s = absl::ToDoubleSeconds(b.at - a.at);
  Figure("load: entries created", static_cast<double>(entries - failed), "");
  Figure("load: entries failed", static_cast<double>(failed), "");
  Figure("load: wall time", s, "s", 1);
  Figure("load: entries per second", (entries - failed) / s, "/s");
  Figure("load: servers' CPU", Delta(a.server_cpu_s, b.server_cpu_s), "s", 1);
  Figure("load: etcd members' CPU", Delta(a.etcd_cpu_s, b.etcd_cpu_s), "s", 1);
  for (size_t i = 0; i < server_pids_.size(); ++i) {
    Figure(absl::StrCat("load: server ", i, " RSS before loading"),
           a.server_rss_kb[i] / 1024.0, "MB", 1);
    Figure(absl::StrCat("load: server ", i, " RSS after loading"),
           b.server_rss_kb[i] / 1024.0, "MB", 1);
    // Every replica's cache holds every entry.
    Figure(absl::StrCat("load: server ", i, " RSS per entry"),
           (b.server_rss_kb[i] - a.server_rss_kb[i]) * 1024.0 / entries, "B");
  }
}

void Report::ColdStart(const Snapshot& a, const Snapshot& b, int agents,
                       std::vector<double> done_ms,
                       const FleetCounters& counters) {
  if (static_cast<int>(done_ms.size()) < agents) {
    Failure("cold start: agents without every SVID in time",
            absl::DeadlineExceededError(absl::StrCat(
                agents - static_cast<int>(done_ms.size()), " agents")));
  }
  Figure("cold: agents attested", static_cast<double>(counters.attested), "");
  Figure("cold: agents with every SVID", static_cast<double>(done_ms.size()),
         "");
  Figure("cold: agents missing (timed out)",
         static_cast<double>(agents - static_cast<int>(done_ms.size())), "");
  Figure("cold: SVIDs signed", static_cast<double>(counters.svids_first), "");
  Figure("cold: all agents served", Percentile(done_ms, 100), "ms");
  Figure("cold: p50 agent served", Percentile(done_ms, 50), "ms");
  const double s = absl::ToDoubleSeconds(b.at - a.at);
  Figure("cold: SVIDs per second", counters.svids_first / s, "/s");
  const double cpu = Delta(a.server_cpu_s, b.server_cpu_s);
  Figure("cold: servers' CPU", cpu, "s", 1);
  Figure("cold: etcd members' CPU", Delta(a.etcd_cpu_s, b.etcd_cpu_s), "s", 1);
  Figure("cold: store requests", StoreRate(a, b) * s, "");
}

void Report::Window(const std::string& name, const Snapshot& a,
                    const Snapshot& b, int64_t changes) {
  const double s = absl::ToDoubleSeconds(b.at - a.at);
  const std::string p = absl::StrCat("steady (", name, "): ");
  Figure(p + "window", s, "s", 1);
  Figure(p + "registration changes per second", changes / s, "/s", 2);
  const double rate = StoreRate(a, b);
  Figure(p + "store requests per second, all methods", rate, "/s", 1);
  for (const auto& [method, v] : b.etcd_handled) {
    auto it = a.etcd_handled.find(method);
    const double d = v - (it == a.etcd_handled.end() ? 0 : it->second);
    if (d > 0)
      Figure(p + "store requests per second, " + method, d / s, "/s", 1);
  }
  const double renewed = static_cast<double>(b.svids_renewed - a.svids_renewed);
  const double first = static_cast<double>(b.svids_first - a.svids_first);
  Figure(p + "SVIDs renewed", renewed, "");
  Figure(p + "SVIDs signed first time (new entries)", first, "");
  Figure(p + "agent SVIDs renewed",
         static_cast<double>(b.agent_renewals - a.agent_renewals), "");
  Figure(p + "SignX509 calls", static_cast<double>(b.sign_calls - a.sign_calls),
         "");
  Figure(p + "Sync messages received",
         static_cast<double>(b.sync_messages - a.sync_messages), "");
  Figure(p + "Sync bytes received (protobuf)",
         static_cast<double>(b.sync_bytes - a.sync_bytes), "B");
  Figure(p + "servers' CPU", Delta(a.server_cpu_s, b.server_cpu_s), "s", 1);
  Figure(p + "etcd members' CPU", Delta(a.etcd_cpu_s, b.etcd_cpu_s), "s", 1);
  if (changes == 0) {
    no_change_store_rate_ = rate;
  } else if (no_change_store_rate_ >= 0) {
    Figure(p + "store requests per second above the no-change window",
           rate - no_change_store_rate_, "/s", 1);
  }
}

void Report::Registration(std::vector<double> ms, std::vector<double> cross_ms,
                          int64_t changes, int64_t missing) {
  if (missing > 0) {
    Failure("registration -> agent: entries that never arrived",
            absl::DeadlineExceededError(absl::StrCat(missing, " entries")));
  }
  Figure("registration -> agent: entries created", static_cast<double>(changes),
         "");
  Figure("registration -> agent: never arrived", static_cast<double>(missing),
         "");
  Figure("registration -> agent p50", Percentile(ms, 50), "ms", 1);
  Figure("registration -> agent p99", Percentile(ms, 99), "ms", 1);
  Figure("registration -> agent max", Percentile(ms, 100), "ms", 1);
  Figure("registration -> agent on the other replica: count",
         static_cast<double>(cross_ms.size()), "");
  Figure("registration -> agent on the other replica p50",
         Percentile(cross_ms, 50), "ms", 1);
  Figure("registration -> agent on the other replica p99",
         Percentile(cross_ms, 99), "ms", 1);
}

void Report::Renewals(const Snapshot& a, const Snapshot& b,
                      const FleetCounters& counters) {
  const double s = absl::ToDoubleSeconds(b.at - a.at);
  const double renewals =
      static_cast<double>((b.svids_renewed - a.svids_renewed) +
                          (b.agent_renewals - a.agent_renewals));
  const double cpu = Delta(a.server_cpu_s, b.server_cpu_s);
  Figure("renewals (SVIDs + agent SVIDs) in both windows", renewals, "");
  Figure("renewals per second", renewals / s, "/s", 1);
  Figure("servers' CPU in both windows", cpu, "s", 1);
  Figure("renewals per server CPU-second (per core)",
         cpu > 0 ? renewals / cpu : -1, "/s", 0);
  const double svids = static_cast<double>(counters.probe_sign_svids);
  Figure("wire: probe SVID renewals counted", svids, "");
  Figure("wire: bytes per SVID renewal (SignX509, both ways)",
         svids > 0 ? counters.probe_sign_bytes / svids : -1, "B");
  const double firsts = static_cast<double>(counters.probe_first_svids);
  Figure("wire: probe first SVIDs counted (cold start)", firsts, "");
  Figure("wire: bytes per first SVID (SignX509, both ways)",
         firsts > 0 ? counters.probe_first_bytes / firsts : -1, "B");
  const double agents = static_cast<double>(counters.probe_agent_renewals);
  Figure("wire: probe agent renewals counted", agents, "");
  Figure("wire: bytes per agent renewal (RenewAgent + new mTLS handshake)",
         agents > 0 ? counters.probe_agent_renew_bytes / agents : -1, "B");
}

void Report::Rss() {
  for (size_t i = 0; i < server_pids_.size(); ++i) {
    Figure(absl::StrCat("RSS: server ", i), ProcRssKb(server_pids_[i]) / 1024.0,
           "MB", 1);
  }
  for (size_t i = 0; i < etcd_pids_.size(); ++i) {
    Figure(absl::StrCat("RSS: etcd member ", i),
           ProcRssKb(etcd_pids_[i]) / 1024.0, "MB", 1);
  }
}

int Report::Finish(const FleetCounters& counters) {
  absl::MutexLock lock(&mu_);
  int64_t total = counters.failures;
  for (const auto& [what, count] : failures_) {
    std::printf("fleet-bench: failed %lld x %s\n",
                static_cast<long long>(count), what.c_str());
    total += count;
  }
  std::printf("fleet-bench: failed calls = %lld\n",
              static_cast<long long>(total));
  return total == 0 ? 0 : 1;
}

}  // namespace mayfly::bench
