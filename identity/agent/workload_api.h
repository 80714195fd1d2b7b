// The SPIFFE Workload API service.
//
// Every call is checked in the same order: the `workload.spiffe.io: true`
// header (InvalidArgument without it), the caller's connection (recorded at
// accept, see callers.h) and rate limit, then attestation from /proc on
// every call. Streams are capped per caller and fed by PushStream, so a slow
// reader only delays itself.
//
// A stream belongs to the process it was attested for, not to the
// connection: every stream ends with PermissionDenied once that process
// exits (the ExitWatcher sees its pidfd), so a child that inherited the
// connection gets nothing further. Before each renewed SVID is delivered the
// process is attested again, and a process that exec'd another binary (its
// selectors changed) has its stream ended too.
//
// Thread-safe: gRPC calls it from its callback threads.
#ifndef MAYFLY_IDENTITY_AGENT_WORKLOAD_API_H_
#define MAYFLY_IDENTITY_AGENT_WORKLOAD_API_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/attestor.h"
#include "identity/agent/callers.h"
#include "identity/agent/log_throttle.h"
#include "identity/agent/process.h"
#include "identity/agent/push_stream.h"
#include "identity/agent/registry.h"
#include "identity/agent/signing_state.h"
#include "identity/clock.h"
#include "identity/log/log.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::agent {

// The header every Workload API request must carry, with value "true".
inline constexpr char kWorkloadHeader[] = "workload.spiffe.io";

// Refused calls (and connections) logged per second at most: a caller
// retrying in a loop shows up without filling the disk.
inline constexpr int kRefusalLogLinesPerSecond = 20;

// Counters for /metrics; written by the service, read by the exporter.
struct ServiceCounters {
  std::atomic<int64_t> attestation_failures{0};
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> rejected_requests{0};
  std::atomic<int64_t> active_streams{0};
  // Stream messages replaced by a newer one while the client was slow.
  std::atomic<int64_t> superseded_messages{0};
};

class WorkloadApiService : public SpiffeWorkloadAPI::CallbackService {
 public:
  // `exit_watcher` must outlive the service.
  WorkloadApiService(Registry& registry, CallerTable& callers,
                     UnixAttestor& attestor, ExitWatcher& exit_watcher,
                     const identity::Clock& clock);

  // Publishes a new signing state to the bundle streams (the registry
  // handles the SVID streams).
  void SetSigningState(std::shared_ptr<const SigningState> state)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Server mode: JWT-SVIDs are signed by `signer` (a network call with a
  // short deadline) while the SigningState holds no JWT key.
  using RemoteJwtSigner = std::function<absl::StatusOr<std::string>(
      const RegistrationEntry& entry,
      const std::vector<std::string>& audience)>;
  void SetRemoteJwtSigner(RemoteJwtSigner signer) ABSL_LOCKS_EXCLUDED(mu_);

  // True once every open stream has received bundle generation `generation`.
  bool AllStreamsHave(uint64_t bundle_generation) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every stream with Unavailable, for a graceful shutdown.
  void EndAllStreams() ABSL_LOCKS_EXCLUDED(mu_);

  const ServiceCounters& counters() const { return counters_; }

  grpc::ServerWriteReactor<X509SVIDResponse>* FetchX509SVID(
      grpc::CallbackServerContext* context,
      const X509SVIDRequest* request) override;
  grpc::ServerWriteReactor<X509BundlesResponse>* FetchX509Bundles(
      grpc::CallbackServerContext* context,
      const X509BundlesRequest* request) override;
  grpc::ServerUnaryReactor* FetchJWTSVID(grpc::CallbackServerContext* context,
                                         const JWTSVIDRequest* request,
                                         JWTSVIDResponse* response) override;
  grpc::ServerWriteReactor<JWTBundlesResponse>* FetchJWTBundles(
      grpc::CallbackServerContext* context,
      const JWTBundlesRequest* request) override;
  grpc::ServerUnaryReactor* ValidateJWTSVID(
      grpc::CallbackServerContext* context,
      const ValidateJWTSVIDRequest* request,
      ValidateJWTSVIDResponse* response) override;

 private:
  // The attested caller, or the status to answer with.
  struct Attested {
    Caller caller;
    std::vector<std::string> selectors;
  };
  absl::StatusOr<Attested> Admit(absl::string_view rpc,
                                 grpc::CallbackServerContext& context);
  // Logs a refused call, with what an operator needs to write an entry for
  // it (`attested` is null when the caller was not attested), and returns
  // `status`. Throttled.
  absl::Status Refused(absl::string_view rpc,
                       const grpc::CallbackServerContext& context,
                       const Attested* attested, absl::Status status);

  std::shared_ptr<const X509BundlesResponse> X509BundlesLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const JWTBundlesResponse> JwtBundlesLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const SigningState> signing() const ABSL_LOCKS_EXCLUDED(mu_);
  // Starts `stream` and ends it once `caller`'s process exits; `on_done`
  // runs when gRPC is done with it.
  template <typename Response>
  grpc::ServerWriteReactor<Response>* StartStream(
      const std::shared_ptr<PushStream<Response>>& stream, const Caller& caller,
      std::function<void()> on_done);
  // A bundle stream: admitted like any call, kept in `streams` for pushes,
  // started with what `build` makes of the current state.
  template <typename Response>
  grpc::ServerWriteReactor<Response>* OpenBundleStream(
      absl::string_view rpc, grpc::CallbackServerContext& context,
      std::vector<std::weak_ptr<PushStream<Response>>>& streams,
      std::shared_ptr<const Response> (WorkloadApiService::*build)() const)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status MintJwtSvids(const Attested& attested,
                            const JWTSVIDRequest& request,
                            JWTSVIDResponse& response);

  Registry& registry_;
  CallerTable& callers_;
  UnixAttestor& attestor_;
  DeliveryAttestations delivery_attestations_{attestor_};
  ExitWatcher& exit_watcher_;
  const identity::Clock& clock_;
  ServiceCounters counters_;
  LogThrottle refusal_log_{kRefusalLogLinesPerSecond, clock_};

  mutable absl::Mutex mu_;
  std::shared_ptr<const SigningState> signing_ ABSL_GUARDED_BY(mu_);
  RemoteJwtSigner remote_jwt_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<PushStream<X509BundlesResponse>>>
      x509_bundle_streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<X509SvidStream>> x509_streams_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<PushStream<JWTBundlesResponse>>> jwt_bundle_streams_
      ABSL_GUARDED_BY(mu_);
};

// grpc::Status from absl::Status, code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_WORKLOAD_API_H_
