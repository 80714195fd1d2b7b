// The admin Unix socket: connections are accepted here, the peer's uid read
// with SO_PEERCRED, and each connection handed to one of two gRPC servers:
// the real Registration service for a uid in admin_uids, a refusing one
// (PermissionDenied on every call) for anyone else, so the caller learns
// why rather than seeing a closed connection.
//
// Thread-safe; one accept thread.
#ifndef MAYFLY_IDENTITY_SERVER_ADMIN_SOCKET_H_
#define MAYFLY_IDENTITY_SERVER_ADMIN_SOCKET_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "identity/unique_fd.h"

namespace mayfly::server {

// The socket's default mode: the server's own uid only (root passes any
// mode). 0660 lets a group reach it; the uid check still applies.
inline constexpr mode_t kDefaultAdminSocketMode = 0600;

// True if `uid` may administer the server.
bool IsAdminUid(uid_t uid, const std::set<uid_t>& admin_uids);

class AdminSocket {
 public:
  // Neither service is owned; both must outlive the socket. The socket's
  // directory must be one no other user can write (CheckTrustedDir).
  static absl::StatusOr<std::unique_ptr<AdminSocket>> Start(
      const std::string& path, mode_t mode, std::set<uid_t> admin_uids,
      grpc::Service& admin, grpc::Service& refusing);
  ~AdminSocket();

 private:
  AdminSocket(std::string path, std::set<uid_t> admin_uids)
      : path_(std::move(path)), admin_uids_(std::move(admin_uids)) {}
  void AcceptLoop();

  const std::string path_;
  const std::set<uid_t> admin_uids_;
  identity::UniqueFd listen_fd_;
  identity::UniqueFd stop_fd_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::unique_ptr<grpc::Server> refusing_server_;
  std::thread accept_thread_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_ADMIN_SOCKET_H_
