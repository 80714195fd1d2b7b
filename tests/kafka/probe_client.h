// The librdkafka client of the probe (probe.cc): its options, what its
// callbacks record, and the producer handle made from an SVID directory.
//
// TLS as docs/kafka.md prescribes for librdkafka 2.0.2: the chain from
// ssl.certificate.location (ssl.certificate.pem would send the leaf only),
// hostname checking off (a broker SVID has a URI SAN, not a DNS name), and
// the broker's SPIFFE ID checked in ssl_cert_verify_cb at depth 0 instead.
#ifndef MAYFLY_TESTS_KAFKA_PROBE_CLIENT_H_
#define MAYFLY_TESTS_KAFKA_PROBE_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/common/rdkafka.h"

namespace mayfly::kafka_probe {

// How long a metadata request or the final flush may take. A refused client
// never gets an answer, so this is also how long a refusal takes to show.
inline constexpr int kDefaultTimeoutMs = 10000;

struct Options {
  std::string mode;
  std::string svid_dir;
  std::string bootstrap;
  std::string broker_spiffe_id;
  std::string topic;
  int64_t count = 0;
  int64_t duration_s = 0;
  int64_t rate = 0;
  int64_t size = 100;  // bench: bytes per message
  int timeout_ms = kDefaultTimeoutMs;
};

using kafka::common::UniqueKafka;

// What the callbacks record; librdkafka calls them from rd_kafka_poll and
// its own threads (the verify callback), hence the lock.
struct State {
  std::string broker_spiffe_id;
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  // Connections librdkafka saw closed ("Disconnected" FAIL log lines).
  std::atomic<int64_t> disconnects{0};
  absl::Mutex mu;
  std::string first_delivery_error ABSL_GUARDED_BY(mu);
  std::string last_error ABSL_GUARDED_BY(mu);
  std::string verify_error ABSL_GUARDED_BY(mu);
  // Produce-to-delivery latencies in whole microseconds, for messages
  // produced with a SendTime as their opaque (probe bench).
  std::vector<absl::Duration> latencies ABSL_GUARDED_BY(mu);
};

// A message's opaque in probe bench: when it was produced. The delivery
// callback records the latency and deletes it.
struct SendTime {
  std::chrono::steady_clock::time_point at;
};

// A producer on the SVID in options.svid_dir whose callbacks record into
// `state` (which must outlive it); null, with the reason on stderr, if
// librdkafka refuses the configuration.
UniqueKafka NewProducer(const Options& options, State& state);

// The broker's complaint or the verify callback's, for a failure line.
std::string Why(State& state);

}  // namespace mayfly::kafka_probe

#endif  // MAYFLY_TESTS_KAFKA_PROBE_CLIENT_H_
