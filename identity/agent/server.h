// The Workload API endpoint: a Unix socket whose connections the agent
// accepts itself, so that it reads each peer's credentials from the kernel
// before handing the connection to gRPC.
//
// The socket is 0777 in a 0755 directory, like SPIRE's: any local process
// may ask, and attestation decides what it gets.
//
// Thread-safe: Start once, Shutdown once.
#ifndef MAYFLY_IDENTITY_AGENT_SERVER_H_
#define MAYFLY_IDENTITY_AGENT_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/agent/callers.h"
#include "identity/agent/log_throttle.h"
#include "identity/agent/workload_api.h"
#include "identity/clock.h"
#include "identity/log/log.h"

namespace mayfly::agent {

struct ServerOptions {
  std::string socket_path;
  int max_request_bytes = 64 * 1024;
  int max_response_bytes = 4 << 20;
};

class WorkloadApiServer {
 public:
  // Binds the socket and starts serving `service`. FailedPrecondition if
  // another process is serving on the path.
  static absl::StatusOr<std::unique_ptr<WorkloadApiServer>> Start(
      const ServerOptions& options, WorkloadApiService& service,
      CallerTable& callers, const identity::Clock& clock);
  ~WorkloadApiServer();

  // Stops accepting, ends every stream, waits up to `grace` for calls to
  // finish, then removes the socket.
  void Shutdown(absl::Duration grace);

  // Connections accepted so far (for tests and metrics).
  int64_t accepted() const { return accepted_.load(); }

 private:
  WorkloadApiServer(ServerOptions options, WorkloadApiService& service,
                    CallerTable& callers, const identity::Clock& clock)
      : options_(std::move(options)),
        service_(service),
        callers_(callers),
        refusal_log_(kRefusalLogLinesPerSecond, clock) {}

  void AcceptLoop();

  const ServerOptions options_;
  WorkloadApiService& service_;
  CallerTable& callers_;
  LogThrottle refusal_log_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd that wakes the accept loop
  std::thread accept_thread_;
  std::atomic<int64_t> accepted_{0};
  std::atomic<bool> shut_down_{false};
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_SERVER_H_
