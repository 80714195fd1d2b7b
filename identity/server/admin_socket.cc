// The admin socket's accept loop and uid check.
#include "identity/server/admin_socket.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/log/log.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

constexpr int kListenBacklog = 64;

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool IsAdminUid(uid_t uid, const std::set<uid_t>& admin_uids) {
  return admin_uids.count(uid) > 0;
}

absl::StatusOr<std::unique_ptr<AdminSocket>> AdminSocket::Start(
    const std::string& path, mode_t mode, std::set<uid_t> admin_uids,
    grpc::Service& admin, grpc::Service& refusing) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin_socket \"", path, "\": 1 to ",
                     sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  RETURN_IF_ERROR(identity::EnsureTrustedDir(Dirname(path), 0755));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket"));
    }
    identity::UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() &&
        connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is served by another process"));
    }
    if (unlink(path.c_str()) != 0) return identity::ErrnoError("unlink", path);
  }
  std::unique_ptr<AdminSocket> s(new AdminSocket(path, std::move(admin_uids)));
  grpc::ServerBuilder admin_builder;
  admin_builder.RegisterService(&admin);
  s->admin_server_ = admin_builder.BuildAndStart();
  grpc::ServerBuilder refusing_builder;
  refusing_builder.RegisterService(&refusing);
  s->refusing_server_ = refusing_builder.BuildAndStart();
  if (s->admin_server_ == nullptr || s->refusing_server_ == nullptr) {
    return absl::InternalError("gRPC server for the admin socket failed");
  }
  s->listen_fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s->listen_fd_.valid()) return identity::ErrnoError("socket", path);
  if (bind(s->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr),
           sizeof(addr)) != 0) {
    return identity::ErrnoError("bind", path);
  }
  if (chmod(path.c_str(), mode) != 0)
    return identity::ErrnoError("chmod", path);
  if (listen(s->listen_fd_.get(), kListenBacklog) != 0) {
    return identity::ErrnoError("listen", path);
  }
  s->stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  if (!s->stop_fd_.valid()) return identity::ErrnoError("eventfd", path);
  s->accept_thread_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

AdminSocket::~AdminSocket() {
  if (accept_thread_.joinable()) {
    const uint64_t one = 1;
    if (write(stop_fd_.get(), &one, sizeof(one)) < 0) {
      LogWarn("admin_socket_stop_failed", {{"error", std::strerror(errno)}});
    }
    accept_thread_.join();
  }
  unlink(path_.c_str());
  const auto deadline = std::chrono::system_clock::now();
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  if (refusing_server_ != nullptr) refusing_server_->Shutdown(deadline);
}

void AdminSocket::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("admin_accept_poll_failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    identity::UniqueFd conn(accept4(listen_fd_.get(), nullptr, nullptr,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn.valid()) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarn("admin_accept_failed", {{"error", std::strerror(errno)}});
        poll(nullptr, 0, 100);  // a full fd table: do not spin
      }
      continue;
    }
    ucred cred = {};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      LogWarn("admin_peercred_failed", {{"error", std::strerror(errno)}});
      continue;
    }
    grpc::Server* target = admin_server_.get();
    if (!IsAdminUid(cred.uid, admin_uids_)) {
      LogWarn("admin_uid_refused", {{"uid", absl::StrCat(cred.uid)},
                                    {"pid", absl::StrCat(cred.pid)}});
      target = refusing_server_.get();
    }
    // gRPC owns the fd from here and closes it with the connection.
    grpc::AddInsecureChannelFromFd(target, conn.release());
  }
}

}  // namespace mayfly::server
