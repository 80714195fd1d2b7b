// The Unix socket listener in front of gRPC: see server.h.
#include "identity/agent/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/log/log.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

// Like SPIRE's agent socket: the directory is world-traversable but only the
// agent's user may create files in it.
constexpr mode_t kSocketDirMode = 0755;
constexpr mode_t kSocketMode = 0777;
// Pending connections the kernel queues while the accept loop catches up
// with a burst (e.g. every workload reconnecting after an agent restart).
constexpr int kListenBacklog = 4096;

absl::StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket path \"", path, "\" is ", path.size(),
        " bytes; a Unix socket path must be under ", sizeof(addr.sun_path)));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Removes a socket left by an agent that died, refusing to touch one that
// still answers or a path that is not a socket.
absl::Status RemoveStaleSocket(const std::string& path,
                               const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket"));
  }
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool live =
      probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&addr),
                            sizeof(addr)) == 0;
  if (probe >= 0) close(probe);
  if (live) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is served by another process"));
  }
  if (unlink(path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("unlink ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkloadApiServer>> WorkloadApiServer::Start(
    const ServerOptions& options, WorkloadApiService& service,
    CallerTable& callers, const identity::Clock& clock) {
  ASSIGN_OR_RETURN(sockaddr_un addr, SocketAddress(options.socket_path));
  // Whoever can write the directory can swap the socket for their own.
  RETURN_IF_ERROR(
      identity::EnsureTrustedDir(Dirname(options.socket_path), kSocketDirMode));
  RETURN_IF_ERROR(RemoveStaleSocket(options.socket_path, addr));

  std::unique_ptr<WorkloadApiServer> server(
      new WorkloadApiServer(options, service, callers, clock));
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(options.max_request_bytes);
  builder.SetMaxSendMessageSize(options.max_response_bytes);
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr) {
    return absl::InternalError("gRPC server failed to start");
  }

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  server->listen_fd_ = fd;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      chmod(options.socket_path.c_str(), kSocketMode) != 0 ||
      listen(fd, kListenBacklog) != 0) {
    return absl::InternalError(absl::StrCat("listen on ", options.socket_path,
                                            ": ", std::strerror(errno)));
  }
  server->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (server->stop_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

WorkloadApiServer::~WorkloadApiServer() {
  Shutdown(absl::ZeroDuration());
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void WorkloadApiServer::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("accept_poll_failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    const int conn =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      // EMFILE and friends: back off instead of spinning on a full table.
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarn("accept_failed", {{"error", std::strerror(errno)}});
        poll(nullptr, 0, 100);
      }
      continue;
    }
    if (absl::Status s = callers_.Add(conn); !s.ok()) {
      if (int64_t held_back = 0; refusal_log_.Allow(held_back)) {
        LogWarn("connection_refused",
                {{"reason", std::string(s.message())},
                 {"refusals_not_logged", absl::StrCat(held_back)}});
      }
      close(conn);
      continue;
    }
    accepted_.fetch_add(1);
    // gRPC owns the fd from here and closes it with the connection.
    grpc::AddInsecureChannelFromFd(grpc_server_.get(), conn);
  }
}

void WorkloadApiServer::Shutdown(absl::Duration grace) {
  if (shut_down_.exchange(true)) return;
  const uint64_t one = 1;
  if (stop_fd_ >= 0 && write(stop_fd_, &one, sizeof(one)) < 0) {
    LogWarn("accept_stop_failed", {{"error", std::strerror(errno)}});
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  unlink(options_.socket_path.c_str());
  service_.EndAllStreams();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(grace));
  }
}

}  // namespace mayfly::agent
