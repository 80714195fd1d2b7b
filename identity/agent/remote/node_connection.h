// The agent's connection to mayfly-server's Node service, over one or more
// replicas.
//
// Every call starts at the replica that last answered and moves to the next
// one on Unavailable or DeadlineExceeded (a replica down, or cut off); any
// other status is the server's answer and is returned as is. Attest runs
// over server-authenticated TLS; every other call over mTLS with the agent
// SVID given to SetAgentSvid (channels are rebuilt when it changes).
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_NODE_CONNECTION_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_NODE_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/agent/remote/tls.h"
#include "identity/clock.h"
#include "identity/server/proto/server.grpc.pb.h"

namespace mayfly::agent::remote {

namespace pb = ::mayfly::server::v1;

// Deadlines of unary calls: long enough for a batch of a few hundred
// signatures on a loaded server, short enough to fail over quickly.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// FetchJWTSVID waits on SignJwt: a workload is waiting.
inline constexpr absl::Duration kJwtCallDeadline = absl::Seconds(2);

class NodeConnection {
 public:
  NodeConnection(std::vector<std::string> addresses,
                 std::shared_ptr<const ServerTrustSource> trust,
                 const identity::Clock& clock);

  // The agent SVID (PEM chain, leaf first) and its key (PEM) for mTLS.
  void SetAgentSvid(const std::string& chain_pem, const std::string& key_pem)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Join token: one request, one answer. x509pop: `first`, the server's
  // challenge, `answer(nonce)` as challenge_response, then the SVID.
  absl::StatusOr<pb::AgentSvid> Attest(
      const pb::AttestRequest& first,
      const std::function<absl::StatusOr<std::string>(const std::string&)>&
          answer) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<pb::AgentSvid> RenewAgent(const pb::RenewAgentRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<pb::SignX509Response> SignX509(
      const pb::SignX509Request& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<pb::SignJwtResponse> SignJwt(const pb::SignJwtRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs one Sync stream on the first replica that accepts it, handing each
  // response to `on_response`, until the stream ends (its status is
  // returned) or Cancel. `on_open` runs once the stream is up.
  absl::Status Sync(
      const pb::SyncRequest& request,
      const std::function<void(const pb::SyncResponse&)>& on_response)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a running Sync (from another thread) and makes later ones return
  // Cancelled at once.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

  // The replica calls go to first now ("host:port").
  std::string CurrentAddress() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Runs `call` on each replica from the current one until one answers
  // with something other than Unavailable/DeadlineExceeded.
  absl::Status WithFailover(
      bool mtls, const std::function<grpc::Status(pb::Node::Stub&)>& call)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<pb::Node::Stub> StubLocked(size_t index, bool mtls)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> addresses_;
  const std::shared_ptr<const ServerTrustSource> trust_;
  const identity::Clock& clock_;

  mutable absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
  std::string chain_pem_ ABSL_GUARDED_BY(mu_);
  std::string key_pem_ ABSL_GUARDED_BY(mu_);
  // Per replica, built on first use; the mTLS ones are dropped on a new SVID.
  std::vector<std::shared_ptr<pb::Node::Stub>> tls_stubs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<pb::Node::Stub>> mtls_stubs_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* sync_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// absl::Status from grpc::Status, code and message.
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_NODE_CONNECTION_H_
