// SvidFeed: the SVID generations every relayed connection of one
// KafkaIdentity moves through.
//
// The X509SvidSource hands out snapshots; the relay needs more per SVID: a
// generation number (newer is larger), when this process received it (the
// rotation scheduler counts the life from there, rotation_scheduler.h), and
// one TLS context to present it, built once and shared by every connection.
// SvidFeed watches the source and keeps the newest of those, and wakes each
// registered relay when it changes so that the relay re-plans its rotation.
//
// A change that is not a new SVID (a bundle rotation) also wakes the relays
// but keeps the generation: bundles are read at each handshake anyway.
//
// Thread-safe. The source's callback thread calls into it; relays read
// Newest() from their own threads.
#ifndef MAYFLY_KAFKA_CLIENT_SVID_FEED_H_
#define MAYFLY_KAFKA_CLIENT_SVID_FEED_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "identity/workload/x509_svid_source.h"
#include "kafka/client/upstream/rotation_scheduler.h"
#include "kafka/client/upstream/tls_upstream.h"

namespace mayfly::kafka {

// One SVID as the relay uses it.
struct SvidGeneration {
  SvidLife life;
  std::shared_ptr<const TlsClientContext> context;
};

class SvidFeed {
 public:
  // Watches `source` until destroyed; `clock` stamps receipts and must
  // outlive the feed.
  SvidFeed(std::shared_ptr<identity::workload::X509SvidSource> source,
           const identity::Clock& clock);
  ~SvidFeed();

  SvidFeed(const SvidFeed&) = delete;
  SvidFeed& operator=(const SvidFeed&) = delete;

  // The source's current SVID as a generation. Unavailable with the
  // source's reason when it has none (never received, or expired by the
  // clock); InvalidArgument when its key does not fit its leaf.
  absl::StatusOr<SvidGeneration> Newest();
  // Newest(), for a new connection: also Unavailable when the SVID is
  // within `margin` of its NotAfter (no request could start on it).
  absl::StatusOr<SvidGeneration> NewestUsable(absl::Duration margin);

  // Calls `wake` after each change of the source, on the source's thread
  // (it must be quick: the relays only poke an eventfd). Returns a key for
  // Unsubscribe; after Unsubscribe returns, `wake` is not running and will
  // not be called again.
  uint64_t Subscribe(std::function<void()> wake);
  void Unsubscribe(uint64_t key);

  identity::workload::X509SvidSource& source() const { return *source_; }

 private:
  void OnChange();

  const std::shared_ptr<identity::workload::X509SvidSource> source_;
  const identity::Clock& clock_;

  absl::Mutex mu_;
  // The snapshot behind generation_, compared by pointer: the source hands
  // out the same snapshot until it rotates.
  std::shared_ptr<const identity::X509Svid> svid_ ABSL_GUARDED_BY(mu_);
  SvidGeneration generation_ ABSL_GUARDED_BY(mu_);
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::function<void()>> wakes_ ABSL_GUARDED_BY(mu_);

  // Serialises wake calls with Unsubscribe (held while calling them).
  absl::Mutex wake_mu_;

  // Last: cancelled first on destruction, before the members it uses go.
  identity::workload::X509SvidSource::Subscription subscription_;
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_SVID_FEED_H_
