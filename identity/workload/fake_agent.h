// FakeAgent: a real gRPC SpiffeWorkloadAPI server on a Unix socket under
// /tmp, whose FetchX509SVID streams follow a script the test writes, so a
// client can be shown garbage, refusals and dropped streams on cue.
//
// The script is a list of streams, each a list of steps: Send writes a
// message, End finishes the stream with a status. Each FetchX509SVID stream
// the agent accepts plays the next stream of the script; one whose steps
// have run out stays open, waiting for more (Send and End add to the last
// stream of the script) or for its client to go away. NextStream starts the
// script of the following stream, so a reconnecting client never receives
// a step meant for the stream it left. Other RPCs answer UNIMPLEMENTED.
//
// Thread-safe. For tests only.
#ifndef MAYFLY_IDENTITY_WORKLOAD_FAKE_AGENT_H_
#define MAYFLY_IDENTITY_WORKLOAD_FAKE_AGENT_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/bundle.h"
#include "identity/x509_svid.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::identity::workload {

// The Workload API message carrying `svid` and its trust domain's bundle.
absl::StatusOr<X509SVIDResponse> X509ResponseFor(const X509Svid& svid,
                                                 const X509Bundle& bundle);

class FakeAgent final : public SpiffeWorkloadAPI::Service {
 public:
  static absl::StatusOr<std::unique_ptr<FakeAgent>> Start();
  ~FakeAgent() override;

  // What X509Source::Start takes: "unix:/tmp/.../agent.sock".
  const std::string& endpoint() const { return endpoint_; }

  void NextStream() ABSL_LOCKS_EXCLUDED(mu_);
  void Send(X509SVIDResponse response) ABSL_LOCKS_EXCLUDED(mu_);
  void End(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // FetchX509SVID streams opened so far.
  int streams() const ABSL_LOCKS_EXCLUDED(mu_);
  // Steps not yet taken.
  int pending() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Status FetchX509SVID(
      grpc::ServerContext* context, const X509SVIDRequest* request,
      grpc::ServerWriter<X509SVIDResponse>* writer) override;

 private:
  struct Step {
    std::optional<X509SVIDResponse> send;  // else end with `status`
    grpc::Status status;
  };

  using Script = std::deque<Step>;

  FakeAgent() { scripts_.push_back(std::make_shared<Script>()); }

  std::string dir_;
  std::string endpoint_;
  std::unique_ptr<grpc::Server> server_;

  mutable absl::Mutex mu_;
  // One per stream, in order; the first `streams_` have been claimed.
  std::vector<std::shared_ptr<Script>> scripts_ ABSL_GUARDED_BY(mu_);
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_FAKE_AGENT_H_
