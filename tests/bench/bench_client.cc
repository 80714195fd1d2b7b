// The workload_bench client pieces: see bench_client.h.
#include "tests/bench/bench_client.h"

#include <algorithm>
#include <cstdio>

namespace mayfly::bench {

// Responses carry whole chains and bundles; gRPC's 4 MB default is too
// tight for a bundle of many roots.
constexpr int kMaxResponseBytes = 64 << 20;
// Long enough for a saturated server's queue; a call past it is a failure.
constexpr int kFetchTimeoutSeconds = 30;

std::shared_ptr<grpc::Channel> Dial(const std::string& socket) {
  grpc::ChannelArguments args;
  // A connection per channel: without this, channels to one target share
  // one subchannel and the "clients" would be streams on one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(kMaxResponseBytes);
  return grpc::CreateCustomChannel("unix:" + socket,
                                   grpc::InsecureChannelCredentials(), args);
}

void AddHeader(grpc::ClientContext& context, int timeout_s) {
  context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(timeout_s));
}

void FailureLog::Add(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++by_reason_[why];
}

void FailureLog::Print(const char* mode) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [why, count] : by_reason_) {
    std::fprintf(stderr, "%s: %d failed: %s\n", mode, count, why.c_str());
  }
}

FailureLog& Failures() {
  static FailureLog* const log = new FailureLog;
  return *log;
}

double FetchOnce(SpiffeWorkloadAPI::Stub& stub, int* svids) {
  grpc::ClientContext context;
  AddHeader(context, kFetchTimeoutSeconds);
  const auto start = Clock::now();
  auto reader = stub.FetchX509SVID(&context, X509SVIDRequest());
  X509SVIDResponse response;
  const bool ok = reader->Read(&response);
  const double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  context.TryCancel();
  const grpc::Status status = reader->Finish();
  if (svids != nullptr) *svids = response.svids_size();
  if (ok && response.svids_size() > 0) return ms;
  Failures().Add(ok ? "response without SVIDs"
                    : "code " + std::to_string(status.error_code()) + ": " +
                          status.error_message());
  return -1;
}

void StartGate::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return open_; });
}

void StartGate::Open() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
  }
  cv_.notify_all();
}

double Percentile(std::vector<double>& v, double p) {
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

}  // namespace mayfly::bench
