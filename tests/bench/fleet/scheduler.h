// Scheduler: a few worker threads driving a fleet of SimAgents. Each agent
// is queued at the time its next signing or renewal is due (or now, when
// its Sync stream brought new entries); a worker takes the earliest due
// agent, waits for its time, runs its Work, and queues it again at its next
// due time. One agent is never worked on by two workers at once.
//
// Thread-safe. Stop() ends the workers; the destructor calls it.
#ifndef MAYFLY_TESTS_BENCH_FLEET_SCHEDULER_H_
#define MAYFLY_TESTS_BENCH_FLEET_SCHEDULER_H_

#include <functional>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mayfly::bench {

class Scheduler {
 public:
  // work(i) runs agent i's Work; next_due(i) says when it is due again.
  Scheduler(int agents, int workers, std::function<void(int)> work,
            std::function<absl::Time(int)> next_due)
      : work_(std::move(work)),
        next_due_(std::move(next_due)),
        queued_(agents, absl::InfiniteFuture()),
        busy_(agents, false),
        rewake_(agents, false) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Scheduler() { Stop(); }

  // Agent i has something to do now.
  void Wake(int i) {
    absl::MutexLock lock(&mu_);
    if (busy_[i]) {
      rewake_[i] = true;
    } else {
      PushLocked(i, absl::Now());
    }
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  using Item = std::pair<absl::Time, int>;

  void PushLocked(int i, absl::Time due) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (due >= queued_[i]) return;  // already queued earlier
    queued_[i] = due;
    queue_.push({due, i});
    pushed_ = true;
  }

  void Run() {
    mu_.Lock();
    while (!stopping_) {
      // Stale items: the agent was queued again earlier, or taken.
      while (!queue_.empty() &&
             queue_.top().first != queued_[queue_.top().second]) {
        queue_.pop();
      }
      const absl::Time now = absl::Now();
      if (queue_.empty() || queue_.top().first > now) {
        const absl::Time until =
            queue_.empty()
                ? now + absl::Milliseconds(200)
                : std::min(queue_.top().first, now + absl::Milliseconds(200));
        // Woken by a push (an earlier item) or the timeout.
        mu_.AwaitWithDeadline(
            absl::Condition(
                +[](Scheduler* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                  return s->stopping_ || s->pushed_;
                },
                this),
            until);
        pushed_ = false;
        continue;
      }
      const int i = queue_.top().second;
      queue_.pop();
      queued_[i] = absl::InfiniteFuture();
      busy_[i] = true;
      mu_.Unlock();
      work_(i);
      const absl::Time due = next_due_(i);
      mu_.Lock();
      busy_[i] = false;
      if (rewake_[i]) {
        rewake_[i] = false;
        PushLocked(i, absl::Now());
      } else if (due != absl::InfiniteFuture()) {
        PushLocked(i, due);
      }
    }
    mu_.Unlock();
  }

  const std::function<void(int)> work_;
  const std::function<absl::Time(int)> next_due_;
  absl::Mutex mu_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_
      ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> busy_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> rewake_ ABSL_GUARDED_BY(mu_);
  bool pushed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_SCHEDULER_H_
