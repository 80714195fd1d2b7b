// Re-attestation once per process per renewal: see delivery_attestations.h.
#include "identity/agent/delivery_attestations.h"

namespace mayfly::agent {

absl::StatusOr<std::vector<std::string>> DeliveryAttestations::Selectors(
    const Caller& caller, const std::shared_ptr<const void>& update) {
  // Under the lock: deliveries come one at a time from the registry's
  // renewal pass, so there is nothing to gain from attesting in parallel,
  // and two streams of one process must not both attest it.
  absl::MutexLock lock(&mu_);
  if (update_ != update) {
    update_ = update;
    results_.clear();
  }
  auto it = results_.find(caller.process.get());
  if (it != results_.end()) return it->second.selectors;
  ++attestations_;
  absl::StatusOr<WorkloadAttributes> now =
      attestor_.Attest(caller.peer, *caller.process);
  absl::StatusOr<std::vector<std::string>> selectors =
      now.ok() ? absl::StatusOr<std::vector<std::string>>(now->Selectors())
               : now.status();
  results_.emplace(caller.process.get(), Result{caller.process, selectors});
  return selectors;
}

int64_t DeliveryAttestations::attestations() const {
  absl::MutexLock lock(&mu_);
  return attestations_;
}

}  // namespace mayfly::agent
