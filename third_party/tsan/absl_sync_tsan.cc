// Makes the system Abseil's synchronization visible to ThreadSanitizer.
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread, so
// absl::Mutex, CondVar and Notification order memory with atomics and
// futexes TSan never sees: under --config=tsan every field guarded by an
// absl::Mutex would be reported as a race ("As if synchronized via
// sleep"). This file, linked into every test binary of a tsan build
// (third_party/system.BUILD, gtest_main), defines those entry points in
// the executable, where the dynamic linker finds them before the library's:
// each calls the library's own (dlsym RTLD_NEXT) and tells TSan what it
// did, a release before a mutex is given up and an acquire after it is
// taken. Reader locks are treated like writer locks: that over-orders
// readers among themselves (a race between two readers goes unseen) but
// never reports a false race; so does the release a thread makes before it
// waits for a Condition, which orders the Condition it built before
// another thread evaluates it.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

// The library's definition of `mangled`; aborts if it has none (the
// system Abseil changed: this file must follow).
template <typename F>
F Real(const char* mangled) {
  void* f = ::dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: no %s in the system Abseil\n",
                 mangled);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// absl evaluates a waiter's Condition with the mutex held, but inside the
// library (LockSlowLoop), often on the thread that is unlocking: each
// evaluation is a critical section of its own, acquire then release.
struct Guarded {
  const absl::Condition* cond;
  absl::Mutex* mu;
};
bool EvalHeld(Guarded* g) {
  __tsan_acquire(g->mu);
  const bool met = g->cond->Eval();
  __tsan_release(g->mu);
  return met;
}

// Abseil's deadlock detector keeps its graph under an internal SpinLock
// TSan cannot see, and would be reported as racing on it. TSan has its own
// lock-order checks for the locks it knows.
[[maybe_unused]] const bool kNoAbslDeadlockDetection = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

}  // namespace

#define REAL(type, mangled)                     \
  static const auto real = Real<type>(mangled); \
  (void)0

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&),
       "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  real(this, held);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&),
       "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  real(this, held);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration),
       "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_"
       "8DurationE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  const bool met = real(this, held, timeout);
  __tsan_acquire(this);  // held either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time),
       "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_"
       "4TimeE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  const bool met = real(this, held, deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&),
       "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  real(this, held);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration),
       "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_"
       "8DurationE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  const bool met = real(this, held, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time),
       "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_"
       "4TimeE");
  Guarded g{&cond, this};
  const Condition held(EvalHeld, &g);
  __tsan_release(this);  // what the evaluating thread reads, ordered
  const bool met = real(this, held, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  REAL(void (*)(CondVar*, Mutex*),
       "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  REAL(bool (*)(CondVar*, Mutex*, Duration),
       "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  REAL(bool (*)(CondVar*, Mutex*, Time),
       "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

// HasBeenNotified() is inline (an acquire load of notified_yet_, seen by
// TSan); Notify() stores it in the library, unseen: release on that
// address and on the object, which the waits below acquire.
void Notification::Notify() {
  REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(this);
  __tsan_release(&notified_yet_);
  real(this);
}

void Notification::WaitForNotification() const {
  REAL(void (*)(const Notification*),
       "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  REAL(bool (*)(const Notification*, Duration),
       "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_"
       "8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  REAL(bool (*)(const Notification*, Time),
       "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_"
       "4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
