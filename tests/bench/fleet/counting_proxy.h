// CountingProxy: a TCP relay on 127.0.0.1 that counts every byte it
// forwards, both ways. The fleet bench puts one in front of a simulated
// agent's connections to mayfly-server, so the bytes a renewal costs on the
// wire (TLS records, HTTP/2 frames, protobuf) are read off the socket, not
// estimated from message sizes.
//
// Each accepted connection gets two pump threads (one per direction); meant
// for a handful of connections, not a fleet. Thread-safe.
#ifndef MAYFLY_TESTS_BENCH_FLEET_COUNTING_PROXY_H_
#define MAYFLY_TESTS_BENCH_FLEET_COUNTING_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace mayfly::bench {

class CountingProxy {
 public:
  // Listens on 127.0.0.1 (a port of the kernel's choice) and relays each
  // connection to 127.0.0.1:`target_port`.
  static absl::StatusOr<std::unique_ptr<CountingProxy>> Start(int target_port);
  // Closes every socket and joins every thread.
  ~CountingProxy();

  int port() const { return port_; }
  // Bytes forwarded so far, client to server plus server to client.
  uint64_t bytes() const { return up_ + down_; }

 private:
  CountingProxy(int listen_fd, int port, int target_port)
      : listen_fd_(listen_fd), port_(port), target_port_(target_port) {}
  void AcceptLoop();
  void Pump(int from, int to, std::atomic<uint64_t>& counter);

  const int listen_fd_;
  const int port_;
  const int target_port_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> up_{0};
  std::atomic<uint64_t> down_{0};
  std::mutex mu_;
  std::vector<int> fds_;  // guarded by mu_; closed by the destructor
  std::vector<std::thread> threads_;  // guarded by mu_
  std::thread accept_;
};

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_COUNTING_PROXY_H_
