// RelayBudget: what the relays of a process hold, so that a process with
// many connections (or a broker that stops reading) meets a limit instead
// of running out of threads or memory inside librdkafka's callbacks.
//
// Connections: one Slot per relay, from connect_cb until its thread ends.
// Buffered bytes: each relay adds what its buffers hold (bytes read from
// one side and not yet written to the other) and takes it back when it
// ends. The limits are ClientOptions' (kafka_identity.h): a connect_cb
// over either is refused with an errno librdkafka retries with its
// backoff, and a relay stops reading while the process is over the bytes
// limit (it keeps writing, which is what brings the total down).
//
// Thread-safe.
#ifndef MAYFLY_KAFKA_CLIENT_RELAY_BUDGET_H_
#define MAYFLY_KAFKA_CLIENT_RELAY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"

namespace mayfly::kafka {

class RelayBudget {
 public:
  // One connection's place; given back on destruction.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Release();
        budget_ = std::exchange(other.budget_, nullptr);
      }
      return *this;
    }
    ~Slot() { Release(); }

   private:
    friend class RelayBudget;
    explicit Slot(RelayBudget* budget) : budget_(budget) {}
    void Release() {
      if (budget_ != nullptr) --budget_->connections_;
      budget_ = nullptr;
    }
    RelayBudget* budget_ = nullptr;
  };

  // The process's budget, shared by every KafkaIdentity.
  static RelayBudget& Process();

  // ResourceExhausted when `max_connections` slots are taken.
  absl::StatusOr<Slot> Acquire(int64_t max_connections);

  // A relay's buffers grew (positive) or shrank (negative).
  void AddBuffered(int64_t delta) { buffered_ += delta; }

  int64_t connections() const { return connections_.load(); }
  int64_t buffered() const { return buffered_.load(); }

 private:
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> buffered_{0};
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_RELAY_BUDGET_H_
