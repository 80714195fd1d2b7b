// A Workload API caller for the agent's integration tests, able to do what a
// well-behaved client never does: leave out the security header, send an
// oversized request, or connect and then exec another binary that inherits
// the connection.
//
//   probe fetch SOCKET [--no-header]     FetchX509SVID once
//   probe big SOCKET BYTES               FetchJWTSVID with a huge audience
//   probe connect-exec SOCKET PROGRAM... connect, then exec PROGRAM with
//                                        PROBE_FD set to the connection
//   probe fetch-fd                       FetchX509SVID over $PROBE_FD
//   probe calls SOCKET N                 N FetchX509SVID calls in a row on
//                                        one connection
//   probe streams SOCKET N               N FetchX509SVID streams held open
//                                        together on one connection
//   probe conns SOCKET N                 N idle connections held open, then
//                                        FetchX509SVID on one more
//   probe stall SOCKET SECONDS           FetchX509SVID on a connection with
//                                        a tiny flow-control window: reads
//                                        the first message, then nothing for
//                                        SECONDS, then one more
//
// Prints "OK id1 id2 ..." or "ERR CODE_NAME: message" and exits 0 either
// way; calls and streams print how many calls ended with each code, e.g.
// "OK=10 RESOURCE_EXHAUSTED=20". 2 on a usage error.
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace {

constexpr const char* kCodeNames[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};

int Report(const grpc::Status& status) {
  std::cout << "ERR " << kCodeNames[status.error_code()] << ": "
            << status.error_message() << std::endl;
  return 0;
}

void AddHeader(grpc::ClientContext& context, bool header) {
  if (header) context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
}

int Fetch(std::shared_ptr<grpc::Channel> channel, bool header) {
  auto stub = SpiffeWorkloadAPI::NewStub(channel);
  grpc::ClientContext context;
  AddHeader(context, header);
  auto reader = stub->FetchX509SVID(&context, X509SVIDRequest());
  X509SVIDResponse response;
  if (!reader->Read(&response)) return Report(reader->Finish());
  std::cout << "OK";
  for (const auto& svid : response.svids())
    std::cout << " " << svid.spiffe_id();
  std::cout << std::endl;
  context.TryCancel();
  reader->Finish();
  return 0;
}

std::shared_ptr<grpc::Channel> Dial(const std::string& socket) {
  return grpc::CreateChannel("unix:" + socket,
                             grpc::InsecureChannelCredentials());
}

// Opens a FetchX509SVID stream and waits for its first message; the code it
// got (OK with a message), with the stream still open when OK.
class Stream {
 public:
  explicit Stream(SpiffeWorkloadAPI::Stub& stub) {
    AddHeader(context_, true);
    reader_ = stub.FetchX509SVID(&context_, X509SVIDRequest());
    X509SVIDResponse response;
    code_ = reader_->Read(&response) ? grpc::StatusCode::OK
                                     : reader_->Finish().error_code();
  }
  ~Stream() {
    if (code_ != grpc::StatusCode::OK) return;
    context_.TryCancel();
    reader_->Finish().IgnoreError();
  }
  grpc::StatusCode code() const { return code_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<X509SVIDResponse>> reader_;
  grpc::StatusCode code_;
};

void PrintTally(const std::map<grpc::StatusCode, int>& tally) {
  const char* sep = "";
  for (const auto& [code, n] : tally) {
    std::cout << sep << kCodeNames[code] << "=" << n;
    sep = " ";
  }
  std::cout << std::endl;
}

// One stream after another, each closed before the next.
int Calls(const std::string& socket, int n) {
  auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
  std::map<grpc::StatusCode, int> tally;
  for (int i = 0; i < n; ++i) ++tally[Stream(*stub).code()];
  PrintTally(tally);
  return 0;
}

// N streams open at once: each thread opens one and holds it until every
// thread has its answer.
int Streams(const std::string& socket, int n) {
  auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
  std::mutex mu;
  std::map<grpc::StatusCode, int> tally;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      Stream stream(*stub);
      {
        std::lock_guard<std::mutex> lock(mu);
        ++tally[stream.code()];
      }
      ++answered;
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (answered.load() < n && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
  }
  for (auto& t : threads) t.join();
  PrintTally(tally);
  return 0;
}

// A reader too slow for the agent: once the small window is full, every
// write to this stream waits for it.
int Stall(const std::string& socket, int seconds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = SpiffeWorkloadAPI::NewStub(grpc::CreateCustomChannel(
      "unix:" + socket, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(seconds + 30));
  auto reader = stub->FetchX509SVID(&context, X509SVIDRequest());
  X509SVIDResponse first, later;
  if (!reader->Read(&first)) return Report(reader->Finish());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  if (!reader->Read(&later)) return Report(reader->Finish());
  std::cout << "OK "
            << (later.svids(0).x509_svid() == first.svids(0).x509_svid()
                    ? "same"
                    : "rotated")
            << std::endl;
  context.TryCancel();
  reader->Finish().IgnoreError();
  return 0;
}

// A plain Unix connection (not close-on-exec), or -1 after printing why.
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

// N raw connections that never speak, then a fetch on a fresh one.
int Conns(const std::string& socket, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = ConnectRaw(socket);
    if (fd < 0) return 0;
    fds.push_back(fd);
  }
  // Let the agent accept them all before the fetch connects.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int rc = Fetch(Dial(socket), true);
  for (int fd : fds) close(fd);
  return rc;
}

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
// --- end jwt-flood ---------------------------------------------------------

int ConnectExec(const std::string& socket, char** program) {
  const int fd = ConnectRaw(socket);  // inherited across exec
  if (fd < 0) return 0;
  setenv("PROBE_FD", std::to_string(fd).c_str(), 1);
  execv(program[0], program);
  std::cout << "ERR EXEC: " << std::strerror(errno) << std::endl;
  return 0;
}

// fork-exit SOCKET [PROGRAM ARGS...]: a stream that outlives the process it
// was attested for. This process connects; its child opens a FetchX509SVID
// stream on that connection (so it is attested as this process) and reads
// the first SVID; then this process exits (or, given PROGRAM, execs it)
// while the child keeps reading. gRPC is not started before the fork, so
// the child may use it. The child prints, once the stream ends or 25 s
// pass:
//   ENDED CODE after_ms=MS renewed=N: MESSAGE
// with MS counted from this process's exit (or its exec) and N the SVIDs
// received after the first.
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
  std::cout << "ENDED " << kCodeNames[status.error_code()] << " after_ms=" << ms
            << " renewed=" << renewed << ": " << status.error_message()
            << std::endl;
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

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fetch" && argc >= 3) {
    const bool header = !(argc > 3 && std::string(argv[3]) == "--no-header");
    return Fetch(Dial(argv[2]), header);
  }
  if (mode == "big" && argc == 4) {
    auto stub = SpiffeWorkloadAPI::NewStub(Dial(argv[2]));
    grpc::ClientContext context;
    AddHeader(context, true);
    JWTSVIDRequest request;
    request.add_audience(std::string(std::atoi(argv[3]), 'a'));
    JWTSVIDResponse response;
    const grpc::Status status =
        stub->FetchJWTSVID(&context, request, &response);
    if (status.ok()) {
      std::cout << "OK" << std::endl;
      return 0;
    }
    return Report(status);
  }
  if (mode == "jwt-flood" && argc == 6) {
    return JwtFlood(argv[2], std::atoi(argv[3]), std::atoi(argv[4]),
                    std::strtoul(argv[5], nullptr, 10));
  }
  if (mode == "connect-exec" && argc >= 4)
    return ConnectExec(argv[2], argv + 3);
  if ((mode == "calls" || mode == "streams" || mode == "conns" ||
       mode == "stall") &&
      argc == 4) {
    const int n = std::atoi(argv[3]);
    if (mode == "calls") return Calls(argv[2], n);
    if (mode == "streams") return Streams(argv[2], n);
    if (mode == "stall") return Stall(argv[2], n);
    return Conns(argv[2], n);
  }
  if (mode == "fetch-fd") {
    const char* fd = std::getenv("PROBE_FD");
    if (fd == nullptr) return 2;
    return Fetch(grpc::CreateInsecureChannelFromFd("probe", std::atoi(fd)),
                 true);
  }
  if (mode == "fork-exit" && argc >= 3) return ForkExit(argv[2], argv + 3);
  if (mode == "hold" && argc == 4) return Hold(argv[2], std::atoi(argv[3]));
  std::cerr << "usage: see probe.cc\n";
  return 2;
}
