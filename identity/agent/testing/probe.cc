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
//   probe calls SOCKET N                 N FetchJWTSVID calls in a row on
//                                        one connection
//   probe streams SOCKET N               N FetchX509SVID streams held open
//                                        together on one connection
//   probe conns SOCKET N                 N idle connections held open, then
//                                        FetchX509SVID on one more
//   probe stall SOCKET SECONDS           FetchX509SVID on a connection with
//                                        a tiny flow-control window: reads
//                                        the first message, then nothing for
//                                        SECONDS, then one more
//   probe fork-exit SOCKET [PROGRAM...]  a stream left to a child once its
//                                        parent exits (or execs PROGRAM)
//   probe hold SOCKET N                  N connections that never speak,
//                                        held until the agent closes them
//   probe jwt-flood SOCKET THREADS SECONDS BYTES
//                                        ValidateJWTSVID with deeply nested
//                                        tokens, back to back
// (the last three in probe_hostile.h)
//
// Prints "OK id1 id2 ..." or "ERR CODE_NAME: message" and exits 0 either
// way; calls and streams print how many calls ended with each code, e.g.
// "OK=10 RESOURCE_EXHAUSTED=20". 2 on a usage error.
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

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

#include "identity/agent/testing/probe_common.h"
#include "identity/agent/testing/probe_hostile.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::agent::probe {
namespace {

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

// One stream after another, each closed before the next.
int Calls(const std::string& socket, int n) {
  auto stub = SpiffeWorkloadAPI::NewStub(Dial(socket));
  std::map<grpc::StatusCode, int> tally;
  // Unary calls, so that only the request rate limits them: streams opened
  // and cancelled one after another also meet max_streams_per_caller when
  // the agent has not yet seen the previous cancel (seen on a loaded
  // machine: OK=7 of a burst of 10).
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext context;
    AddHeader(context, true);
    JWTSVIDRequest request;
    request.add_audience("probe");
    JWTSVIDResponse response;
    ++tally[stub->FetchJWTSVID(&context, request, &response).error_code()];
  }
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
int Main(int argc, char** argv) {
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

}  // namespace
}  // namespace mayfly::agent::probe

int main(int argc, char** argv) {
  return mayfly::agent::probe::Main(argc, argv);
}
