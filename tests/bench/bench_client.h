// What every workload_bench mode shares: a connection of its own per client,
// one timed FetchX509SVID, failure reasons counted by message, and a gate
// that releases many waiting threads at once without burning CPU while they
// wait.
#ifndef MAYFLY_TESTS_BENCH_BENCH_CLIENT_H_
#define MAYFLY_TESTS_BENCH_BENCH_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::bench {

using Clock = std::chrono::steady_clock;

// A channel on its own connection to the Workload API at `socket`.
std::shared_ptr<grpc::Channel> Dial(const std::string& socket);

// The Workload API header and a deadline `timeout_s` from now.
void AddHeader(grpc::ClientContext& context, int timeout_s);

// Why calls failed, counted by message, so that a run with failures says
// what they were (stderr) instead of only how many. Thread-safe.
class FailureLog {
 public:
  void Add(const std::string& why);
  // One line per reason on stderr, prefixed with `mode`.
  void Print(const char* mode) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> by_reason_;
};
// The process's one log: FetchOnce adds to it.
FailureLog& Failures();

// One FetchX509SVID first response; returns milliseconds, or -1 after adding
// the reason to Failures(). `svids`, if given, gets the SVID count.
double FetchOnce(SpiffeWorkloadAPI::Stub& stub, int* svids = nullptr);

// Releases waiting threads all at once. They sleep on a condition variable:
// an earlier version polled every 1 ms, and 1,000 threads doing that kept
// both cores busy in the kernel (about 100 s of system CPU per run),
// starving the connections still being set up until gRPC gave up on them
// after 20 s ("connection attempt timed out before receiving SETTINGS
// frame"). Thread-safe.
class StartGate {
 public:
  void Wait();
  void Open();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// The p-quantile (0..1) of `v`, which must not be empty; reorders `v`.
double Percentile(std::vector<double>& v, double p);

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_BENCH_CLIENT_H_
