// The probe's hostile modes: see probe_hostile.h.
#include "identity/agent/testing/probe_hostile.h"

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "identity/agent/testing/probe_common.h"
#include "identity/grpc_status.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::agent::probe {
namespace {

// --- jwt-flood: ValidateJWTSVID abuse (issue 8, item 5) -------------------
//   probe jwt-flood SOCKET THREADS SECONDS BYTES
// THREADS connections each send ValidateJWTSVID back to back for SECONDS,
// with a token whose payload is BYTES of {"x":[[[...]]]} (nested about
// BYTES/2 deep; an object, as the claims must be, or a parser stops at the
// first byte) under an ES256 header and a signature that does not verify.
// Prints the tally of codes, then "slowest_ms=N": how long the slowest call
// took.
std::string FloodB64(const std::string& data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) n |= static_cast<unsigned char>(data[i + 2]);
    const size_t chars = std::min<size_t>(4, data.size() - i + 1);
    for (size_t c = 0; c < chars; ++c)
      out += kAlphabet[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

}  // namespace

int JwtFlood(const std::string& socket, int threads, int seconds,
             size_t bytes) {
  const size_t depth = bytes > 8 ? (bytes - 6) / 2 : 1;
  const std::string token =
      FloodB64(R"({"alg":"ES256","kid":"flood","typ":"JWT"})") + "." +
      FloodB64("{\"x\":" + std::string(depth, '[') + std::string(depth, ']') +
               "}") +
      "." + FloodB64(std::string(64, '\x01'));
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::mutex mu;
  std::map<grpc::StatusCode, int> tally;
  std::chrono::steady_clock::duration slowest{};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
      while (std::chrono::steady_clock::now() < end) {
        grpc::ClientContext context;
        context.AddMetadata("workload.spiffe.io", "true");
        // Long enough to see an agent that is stuck: the calls must end
        // on their own, not by this deadline.
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(seconds + 10));
        ValidateJWTSVIDRequest request;
        request.set_audience("flood");
        request.set_svid(token);
        ValidateJWTSVIDResponse response;
        const auto start = std::chrono::steady_clock::now();
        const grpc::Status status =
            stub->ValidateJWTSVID(&context, request, &response);
        const auto took = std::chrono::steady_clock::now() - start;
        std::lock_guard<std::mutex> lock(mu);
        ++tally[status.error_code()];
        slowest = std::max(slowest, took);
      }
    });
  }
  for (auto& w : workers) w.join();
  PrintTally(tally);
  std::cout
      << "slowest_ms="
      << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
      << std::endl;
  return 0;
}

int ForkExit(const std::string& socket, char** program) {
  const int fd = ConnectRaw(socket);
  if (fd < 0) return 0;
  int ready[2];
  if (pipe(ready) != 0) return 2;
  const pid_t parent = getpid();
  // Opened before the fork: the child learns when this process is gone
  // without racing with its exit.
  const int parent_pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent, 0));
  const pid_t child = fork();
  if (child < 0) return 2;
  if (child > 0) {
    close(ready[1]);
    char byte = 0;
    // The child has its first SVID: leave it the connection.
    if (read(ready[0], &byte, 1) != 1 || byte != '1') return 0;
    if (program[0] != nullptr) {
      execv(program[0], program);
      std::cout << "ERR EXEC: " << std::strerror(errno) << std::endl;
    }
    _exit(0);
  }
  close(ready[0]);
  auto stub = SpiffeWorkloadAPI::NewStub(
      grpc::CreateInsecureChannelFromFd("probe", fd));
  grpc::ClientContext context;
  context.AddMetadata("workload.spiffe.io", "true");
  // Bounded: the agent must end the stream within a second or two of the
  // exit; 25 s covers the renewals of a 10 s SVID a broken agent would send.
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(25));
  auto reader = stub->FetchX509SVID(&context, X509SVIDRequest());
  X509SVIDResponse response;
  if (!reader->Read(&response)) {
    const char no = '0';
    (void)!write(ready[1], &no, 1);
    return Report(reader->Finish());
  }
  const char yes = '1';
  (void)!write(ready[1], &yes, 1);
  if (program[0] == nullptr && parent_pidfd >= 0) {
    pollfd p{parent_pidfd, POLLIN, 0};
    poll(&p, 1, 10000);
  }
  const auto gone = std::chrono::steady_clock::now();
  int renewed = 0;
  while (reader->Read(&response)) ++renewed;
  const grpc::Status status = reader->Finish();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - gone)
                      .count();
  std::cout << "ENDED " << identity::GrpcCodeName(status.error_code())
            << " after_ms=" << ms << " renewed=" << renewed << ": "
            << status.error_message() << std::endl;
  return 0;
}

// hold SOCKET N: N raw connections that never send a byte, held until the
// agent closes them or 30 s pass. Prints "HELD N" once connected, then
//   CLOSED K after_ms=MS
// with K the connections the agent closed and MS when the last of them
// closed, counted from the connects. This end stays open until the 30 s are
// up, so whatever the agent frees it freed on its own.
int Hold(const std::string& socket, int n) {
  std::vector<pollfd> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = ConnectRaw(socket);
    if (fd < 0) return 0;
    fds.push_back(pollfd{fd, POLLIN, 0});
  }
  const auto start = std::chrono::steady_clock::now();
  std::cout << "HELD " << n << std::endl;
  const auto deadline = start + std::chrono::seconds(30);
  int closed = 0;
  auto last = start;
  while (closed < n && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (pollfd& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;  // closed already, or quiet
      char byte;
      if (recv(p.fd, &byte, 1, MSG_DONTWAIT) > 0) continue;  // not ours
      p.fd = -p.fd;  // poll skips it from now on; closed at the end
      ++closed;
      last = std::chrono::steady_clock::now();
    }
  }
  std::cout << "CLOSED " << closed << " after_ms="
            << std::chrono::duration_cast<std::chrono::milliseconds>(last -
                                                                     start)
                   .count()
            << std::endl;
  std::this_thread::sleep_until(deadline);
  for (const pollfd& p : fds) close(p.fd < 0 ? -p.fd : p.fd);
  return 0;
}

}  // namespace mayfly::agent::probe
