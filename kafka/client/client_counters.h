// The counters behind KafkaIdentity::Stats(), bumped by the relays.
//
// Thread-safe: relays on many threads bump them; Stats() reads them.
#ifndef MAYFLY_KAFKA_CLIENT_CLIENT_COUNTERS_H_
#define MAYFLY_KAFKA_CLIENT_CLIENT_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "kafka/client/kafka_identity.h"

namespace mayfly::kafka {

class ClientCounters {
 public:
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> rotations{0};
  std::atomic<uint64_t> rotation_failures{0};
  std::atomic<uint64_t> peer_rejected{0};
  std::atomic<uint64_t> svid_refused{0};
  std::atomic<uint64_t> svid_unavailable{0};
  std::atomic<uint64_t> overdue_rotations{0};
  std::atomic<uint64_t> forced_overlaps{0};
  std::atomic<uint64_t> upstream_closed{0};
  std::atomic<int64_t> active_connections{0};

  void SetLastError(absl::string_view error) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    last_error_ = std::string(error);
  }

  ClientStats Snapshot() const ABSL_LOCKS_EXCLUDED(mu_) {
    ClientStats s;
    s.connections_opened = connections_opened.load();
    s.connect_failures = connect_failures.load();
    s.rotations = rotations.load();
    s.rotation_failures = rotation_failures.load();
    s.peer_rejected = peer_rejected.load();
    s.svid_refused = svid_refused.load();
    s.svid_unavailable = svid_unavailable.load();
    s.overdue_rotations = overdue_rotations.load();
    s.forced_overlaps = forced_overlaps.load();
    s.upstream_closed = upstream_closed.load();
    s.active_connections = active_connections.load();
    absl::MutexLock lock(&mu_);
    s.last_error = last_error_;
    return s;
  }

 private:
  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_CLIENT_COUNTERS_H_
