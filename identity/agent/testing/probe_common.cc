// Pieces shared by the probe's modes: see probe_common.h.
#include "identity/agent/testing/probe_common.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "identity/grpc_status.h"

namespace mayfly::agent::probe {

int Report(const grpc::Status& status) {
  std::cout << "ERR " << identity::GrpcCodeName(status.error_code()) << ": "
            << status.error_message() << std::endl;
  return 0;
}

void AddHeader(grpc::ClientContext& context, bool header) {
  if (header) context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
}

std::shared_ptr<grpc::Channel> Dial(const std::string& socket) {
  return grpc::CreateChannel("unix:" + socket,
                             grpc::InsecureChannelCredentials());
}

int ConnectRaw(const std::string& socket) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  if (fd < 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::cout << "ERR CONNECT: " << std::strerror(errno) << std::endl;
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

void PrintTally(const std::map<grpc::StatusCode, int>& tally) {
  const char* sep = "";
  for (const auto& [code, n] : tally) {
    std::cout << sep << identity::GrpcCodeName(code) << "=" << n;
    sep = " ";
  }
  std::cout << std::endl;
}

}  // namespace mayfly::agent::probe
