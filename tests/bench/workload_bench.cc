// Load driver for a SPIFFE Workload API server: the same client code against
// mayfly-agent and the SPIRE agent, so their figures compare in one run.
//
//   workload_bench latency SOCKET CLIENTS ROUNDS
//     CLIENTS threads, each on its own connection (warmed up first), open
//     FetchX509SVID ROUNDS times and time the first response. Prints
//     "latency clients=N samples=S p50_ms=.. p99_ms=.. max_ms=..".
//   workload_bench paced SOCKET CLIENTS PERIOD_MS SECONDS
//     CLIENTS threads on their own connections, each fetching once every
//     PERIOD_MS (random phase) for SECONDS: an open-loop load of
//     CLIENTS*1000/PERIOD_MS requests per second, the way a fleet of
//     workloads actually calls. Same output as latency.
//   workload_bench fanout SOCKET STREAMS CONNECTIONS TIMEOUT_S
//     STREAMS FetchX509SVID streams over CONNECTIONS connections; waits for
//     every stream's first SVID, then for every stream to receive the next
//     one. Prints "fanout streams=N ... spread_ms=.." (first to last stream
//     to get the renewed SVID).
//   workload_bench storm SOCKET CLIENTS
//     CLIENTS threads released at once, each opening a new connection and
//     fetching once. Prints "storm clients=N ok=.. failed=.. all_ms=.."
//     (release to the last SVID received) and p50_ms/p99_ms.
//   workload_bench groups SOCKET FIRST_GID COUNT
//     For each of COUNT supplementary groups FIRST_GID.., switches this
//     process to that group and fetches once: COUNT workloads, each matching
//     its own entry. Prints "groups fetched=N failed=F seconds=..".
//
// Every loop is bounded by its count and by a deadline. Exit 1 on failure;
// failed calls are counted in the output line (failed=N) and their reasons
// printed to stderr.
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_client.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::bench {
namespace {

void Report(const char* mode, int clients,
            std::vector<std::vector<double>>& samples, int failures) {
  std::vector<double> all;
  for (auto& s : samples) all.insert(all.end(), s.begin(), s.end());
  if (all.empty()) {
    std::printf("%s clients=%d failed=%d\n", mode, clients, failures);
    return;
  }
  const double max = *std::max_element(all.begin(), all.end());
  const double p50 = Percentile(all, 0.50), p99 = Percentile(all, 0.99);
  std::printf(
      "%s clients=%d samples=%zu failed=%d p50_ms=%.3f p99_ms=%.3f "
      "max_ms=%.3f\n",
      mode, clients, all.size(), failures, p50, p99, max);
}

// Times one fetch into `samples`, or counts a failure.
void FetchAndRecord(SpiffeWorkloadAPI::Stub& stub, std::vector<double>& samples,
                    std::atomic<int>& failures) {
  const double ms = FetchOnce(stub);
  if (ms < 0) {
    failures++;
  } else {
    samples.push_back(ms);
  }
}

// Starts CLIENTS threads, each on its own connection warmed up by one fetch
// (connect, attest), releases them together to run `load` (client index,
// stub, where its samples go), and reports the samples as `mode`.
int RunClients(
    const char* mode, const std::string& socket, int clients,
    const std::function<void(int, SpiffeWorkloadAPI::Stub&,
                             std::vector<double>&, std::atomic<int>&)>& load) {
  std::vector<std::vector<double>> samples(clients);
  std::atomic<int> ready{0}, failures{0};
  StartGate gate;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
      if (FetchOnce(*stub) < 0) failures++;
      ready++;
      gate.Wait();
      load(c, *stub, samples[c], failures);
    });
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (ready.load() < clients && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  gate.Open();
  for (auto& t : threads) t.join();
  Report(mode, clients, samples, failures.load());
  Failures().Print(mode);
  return failures.load() == 0 ? 0 : 1;
}

int Paced(const std::string& socket, int clients, int period_ms, int seconds) {
  return RunClients(
      "paced", socket, clients,
      [&](int c, SpiffeWorkloadAPI::Stub& stub, std::vector<double>& samples,
          std::atomic<int>& failures) {
        // Spread the clients' phases evenly over one period.
        auto next = Clock::now() +
                    std::chrono::microseconds(1000LL * period_ms * c / clients);
        const auto end = Clock::now() + std::chrono::seconds(seconds);
        while (next < end) {
          std::this_thread::sleep_until(next);
          FetchAndRecord(stub, samples, failures);
          next += std::chrono::milliseconds(period_ms);
        }
      });
}

int Latency(const std::string& socket, int clients, int rounds) {
  return RunClients(
      "latency", socket, clients,
      [&](int, SpiffeWorkloadAPI::Stub& stub, std::vector<double>& samples,
          std::atomic<int>& failures) {
        for (int r = 0; r < rounds; ++r) {
          FetchAndRecord(stub, samples, failures);
        }
      });
}

// One watch stream: records when each distinct leaf arrives.
class Watch : public grpc::ClientReadReactor<X509SVIDResponse> {
 public:
  using Arrival = std::pair<size_t, Clock::time_point>;  // leaf hash, when

  Watch(SpiffeWorkloadAPI::Stub& stub, std::atomic<int>& first,
        std::atomic<int>& done)
      : first_(first), done_(done) {
    AddHeader(context_, 600);
    stub.async()->FetchX509SVID(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    const size_t leaf =
        std::hash<std::string>()(response_.svids(0).x509_svid());
    bool was_first = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (arrivals_.empty() || arrivals_.back().first != leaf) {
        was_first = arrivals_.empty();
        arrivals_.emplace_back(leaf, Clock::now());
      }
    }
    if (was_first) first_++;
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override { done_++; }
  void Cancel() { context_.TryCancel(); }

  std::vector<Arrival> arrivals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }
  // The first leaf this stream got that is not in `old`, if any.
  std::optional<Arrival> FirstOutside(const std::set<size_t>& old) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Arrival& a : arrivals_) {
      if (!old.count(a.first)) return a;
    }
    return std::nullopt;
  }

 private:
  grpc::ClientContext context_;
  X509SVIDRequest request_;
  X509SVIDResponse response_;
  mutable std::mutex mu_;
  std::vector<Arrival> arrivals_;
  std::atomic<int>& first_;
  std::atomic<int>& done_;
};

// Opens the streams, waits until all have an SVID, notes every leaf seen so
// far, then times the next leaf (one renewal) from the first stream that
// gets it to the last. A renewal that lands while streams are still opening
// is one of the noted leaves, so it is never mistaken for the one timed.
int Fanout(const std::string& socket, int streams, int connections,
           int timeout_s) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stubs;
  for (int i = 0; i < connections; ++i) {
    channels.push_back(Dial(socket));
    stubs.push_back(SpiffeWorkloadAPI::NewStub(channels.back()));
  }
  std::atomic<int> first{0}, done{0};
  std::vector<std::unique_ptr<Watch>> watches;
  const auto open_start = Clock::now();
  for (int i = 0; i < streams; ++i) {
    watches.push_back(
        std::make_unique<Watch>(*stubs[i % connections], first, done));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (first.load() < streams && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int opened = first.load();
  const double open_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - open_start)
          .count();
  std::set<size_t> old;
  for (const auto& w : watches) {
    for (const auto& [leaf, when] : w->arrivals()) old.insert(leaf);
  }
  int rotated = 0;
  std::set<size_t> timed;
  Clock::time_point earliest = Clock::time_point::max(), latest{};
  while (Clock::now() < deadline) {
    rotated = 0;
    timed.clear();
    earliest = Clock::time_point::max();
    latest = {};
    for (const auto& w : watches) {
      std::optional<Watch::Arrival> next = w->FirstOutside(old);
      if (!next) continue;
      ++rotated;
      timed.insert(next->first);
      earliest = std::min(earliest, next->second);
      latest = std::max(latest, next->second);
    }
    if (rotated >= opened) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& w : watches) w->Cancel();
  const auto drain = Clock::now() + std::chrono::seconds(30);
  while (done.load() < streams && Clock::now() < drain) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf(
      "fanout streams=%d opened=%d open_ms=%.0f rotated=%d new_leaves=%zu "
      "spread_ms=%.1f\n",
      streams, opened, open_ms, rotated, timed.size(),
      rotated > 0
          ? std::chrono::duration<double, std::milli>(latest - earliest).count()
          : -1.0);
  // Reactors must outlive their calls; leak them if a call never ended.
  if (done.load() < streams) {
    for (auto& w : watches) w.release();
  }
  // Every stream must get the same one new leaf.
  return opened == streams && rotated == streams && timed.size() == 1 ? 0 : 1;
}

// CLIENTS threads released together, each dialling its own new connection
// and fetching once, as workloads do when an agent restarts. One attempt
// each: a failure is counted, not retried.
int Storm(const std::string& socket, int clients) {
  std::vector<double> done_ms(clients, -1);
  std::atomic<int> waiting{0};
  StartGate gate;
  Clock::time_point released;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      waiting++;
      gate.Wait();
      auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
      if (FetchOnce(*stub) >= 0) {
        done_ms[c] =
            std::chrono::duration<double, std::milli>(Clock::now() - released)
                .count();
      }
    });
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (waiting.load() < clients && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  released = Clock::now();
  gate.Open();
  for (auto& t : threads) t.join();
  std::vector<double> ok;
  for (double ms : done_ms) {
    if (ms >= 0) ok.push_back(ms);
  }
  const int failed = clients - static_cast<int>(ok.size());
  if (ok.empty()) {
    std::printf("storm clients=%d failed=%d\n", clients, failed);
  } else {
    const double all = *std::max_element(ok.begin(), ok.end());
    const double p50 = Percentile(ok, 0.50), p99 = Percentile(ok, 0.99);
    std::printf(
        "storm clients=%d ok=%zu failed=%d all_ms=%.1f p50_ms=%.1f "
        "p99_ms=%.1f\n",
        clients, ok.size(), failed, all, p50, p99);
  }
  Failures().Print("storm");
  return failed == 0 ? 0 : 1;
}

int Groups(const std::string& socket, gid_t first_gid, int count) {
  auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
  int failed = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(300);
  int fetched = 0;
  for (int i = 0; i < count && Clock::now() < deadline; ++i) {
    const gid_t gid = first_gid + i;
    if (setgroups(1, &gid) != 0) {
      std::perror("setgroups");
      return 1;
    }
    int svids = 0;
    if (FetchOnce(*stub, &svids) < 0) {
      // SPIRE may not have synced this entry yet: retry, bounded.
      bool ok = false;
      for (int retry = 0; retry < 50 && !ok; ++retry) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ok = FetchOnce(*stub, &svids) >= 0;
      }
      if (!ok) failed++;
    }
    fetched++;
  }
  std::printf("groups fetched=%d failed=%d seconds=%.2f\n", fetched, failed,
              std::chrono::duration<double>(Clock::now() - start).count());
  return failed == 0 && fetched == count ? 0 : 1;
}

}  // namespace
}  // namespace mayfly::bench

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "latency" && argc == 5) {
    return mayfly::bench::Latency(argv[2], std::atoi(argv[3]),
                                  std::atoi(argv[4]));
  }
  if (mode == "paced" && argc == 6) {
    return mayfly::bench::Paced(argv[2], std::atoi(argv[3]), std::atoi(argv[4]),
                                std::atoi(argv[5]));
  }
  if (mode == "fanout" && argc == 6) {
    return mayfly::bench::Fanout(argv[2], std::atoi(argv[3]),
                                 std::atoi(argv[4]), std::atoi(argv[5]));
  }
  if (mode == "storm" && argc == 4) {
    return mayfly::bench::Storm(argv[2], std::atoi(argv[3]));
  }
  if (mode == "groups" && argc == 5) {
    return mayfly::bench::Groups(
        argv[2], static_cast<gid_t>(std::atoll(argv[3])), std::atoi(argv[4]));
  }
  std::fprintf(stderr, "usage: see workload_bench.cc\n");
  return 2;
}
