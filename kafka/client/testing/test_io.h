// Loopback sockets and blocking-with-a-bound I/O over a TlsUpstream, for the
// Kafka client library's tests: what a test does as the client of a
// FakeBroker, and how the fake broker opens its own sockets.
#ifndef MAYFLY_KAFKA_CLIENT_TESTING_TEST_IO_H_
#define MAYFLY_KAFKA_CLIENT_TESTING_TEST_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/unique_fd.h"
#include "kafka/client/upstream/tls_upstream.h"

namespace mayfly::kafka::test_io {

// A bound on every blocking step of a test, far above what it needs.
constexpr int kIoTimeoutMs = 10000;

// A listening TCP socket on 127.0.0.1 with a port the kernel chose.
struct Listener {
  identity::UniqueFd fd;
  int port = 0;
  std::string address;  // "127.0.0.1:PORT"
};
absl::StatusOr<Listener> ListenLoopback();

// A blocking TCP connection to "host:port" (IPv4; loopback in tests).
absl::StatusOr<identity::UniqueFd> ConnectTcp(absl::string_view address);

// Writes all of `data` through the non-blocking upstream.
absl::Status WriteAll(TlsUpstream& up, absl::string_view data);

// Reads exactly `n` bytes (FailedPrecondition if the stream ends first).
absl::StatusOr<std::string> ReadExactly(TlsUpstream& up, size_t n);

// Reads until the broker closes the stream.
absl::StatusOr<std::string> ReadToEof(TlsUpstream& up);

}  // namespace mayfly::kafka::test_io

#endif  // MAYFLY_KAFKA_CLIENT_TESTING_TEST_IO_H_
