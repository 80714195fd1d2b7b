// Group steadiness and rebalance counting: see group_state.h.
#include "kafka/cli/group_state.h"

namespace mayfly::kafka::cli {

void GroupState::SetPartitionCount(int32_t count) {
  absl::MutexLock lock(&mu_);
  partitions_ = count;
  UpdateSteady();
}

void GroupState::Assigned(int member, const std::vector<int32_t>& partitions,
                          bool replace) {
  absl::MutexLock lock(&mu_);
  CountCallback();
  std::set<int32_t>& held = held_.at(member);
  if (replace) held.clear();
  held.insert(partitions.begin(), partitions.end());
  UpdateSteady();
}

void GroupState::Revoked(int member, const std::vector<int32_t>& partitions,
                         bool replace) {
  absl::MutexLock lock(&mu_);
  CountCallback();
  std::set<int32_t>& held = held_.at(member);
  if (replace) {
    held.clear();
  } else {
    for (int32_t p : partitions) held.erase(p);
  }
}

void GroupState::Closing() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
}

bool GroupState::steady() const {
  absl::MutexLock lock(&mu_);
  return steady_;
}

int64_t GroupState::rebalances() const {
  absl::MutexLock lock(&mu_);
  return rebalances_;
}

void GroupState::CountCallback() {
  if (steady_ && !closing_) ++rebalances_;
}

void GroupState::UpdateSteady() {
  if (steady_ || partitions_ <= 0) return;
  std::set<int32_t> all;
  size_t held = 0;
  for (const std::set<int32_t>& member : held_) {
    if (member.empty()) return;
    held += member.size();
    all.insert(member.begin(), member.end());
  }
  // Each partition once, and exactly 0..partitions_-1.
  steady_ = held == all.size() &&
            all.size() == static_cast<size_t>(partitions_) &&
            *all.begin() == 0 && *all.rbegin() == partitions_ - 1;
}

}  // namespace mayfly::kafka::cli
