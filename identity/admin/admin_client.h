// Connecting the `mayfly` admin commands (entry, token, agent) to the
// mayfly-server Registration service (identity/server/proto/server.proto).
//
// Two transports, as the server offers them:
//   --server unix:///run/mayfly-server/admin.sock   the admin Unix socket;
//       the server checks the caller's uid, so nothing is presented here.
//   --server HOST:PORT --svid-dir DIR --bundle FILE   mTLS with an admin
//       SVID (DIR as `mayfly watch x509 --write` keeps it). The server is
//       trusted when its chain leads to a root of FILE and its leaf's one
//       URI SAN is spiffe://TD/mayfly/server, TD being the admin SVID's
//       trust domain; there is no hostname check (SVIDs name workloads, not
//       hosts).
// The default server is $MAYFLY_SERVER_ADMIN, else the socket above. Every
// call carries a deadline (--timeout, default 10s).
#ifndef MAYFLY_IDENTITY_ADMIN_ADMIN_CLIENT_H_
#define MAYFLY_IDENTITY_ADMIN_ADMIN_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/cli/flags.h"
#include "identity/server/proto/server.grpc.pb.h"

namespace mayfly::admin {

// Where the admin socket is unless the environment or --server says.
inline constexpr absl::string_view kDefaultAdminServer =
    "unix:///run/mayfly-server/admin.sock";
inline constexpr absl::string_view kAdminServerEnv = "MAYFLY_SERVER_ADMIN";
// Registration calls are small and the server answers from its store; ten
// seconds covers a store failover (etcd elects a leader in about 2 s).
inline constexpr absl::string_view kDefaultTimeout = "10s";
// The path of the server's SPIFFE ID in its trust domain (server.proto).
inline constexpr absl::string_view kServerIdPath = "/mayfly/server";

// The flags every admin command takes; AddTo registers them on a FlagSet.
struct ServerFlags {
  std::string server;
  std::string svid_dir;
  std::string bundle;
  std::string timeout = std::string(kDefaultTimeout);

  // Fills `server` from the environment (or the default) first, so --help
  // shows what will be used.
  void AddTo(cli::FlagSet& flags);
};

// A connected stub and the per-call deadline.
class AdminClient {
 public:
  // InvalidArgument naming the flag when they do not fit together (mTLS
  // without --svid-dir/--bundle, a bad --timeout); errors reading the SVID
  // or bundle name the file. Does not contact the server (gRPC connects on
  // the first call).
  static absl::StatusOr<std::unique_ptr<AdminClient>> Connect(
      const ServerFlags& flags);

  // For tests and callers that already hold a channel.
  AdminClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : stub_(server::v1::Registration::NewStub(channel)), timeout_(timeout) {}

  server::v1::Registration::StubInterface& stub() { return *stub_; }
  // A fresh context whose deadline is now + the timeout; one per call.
  std::unique_ptr<grpc::ClientContext> Context() const;

 private:
  std::unique_ptr<server::v1::Registration::StubInterface> stub_;
  absl::Duration timeout_;
};

// "PERMISSION_DENIED: <server message>": the code as gRPC names it.
std::string StatusText(const grpc::Status& status);

}  // namespace mayfly::admin

#endif  // MAYFLY_IDENTITY_ADMIN_ADMIN_CLIENT_H_
