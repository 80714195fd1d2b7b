// Makes librdkafka's threads and locks visible to ThreadSanitizer.
//
// Debian's librdkafka uses glibc's C11 threads (thrd_create, mtx_lock,
// cnd_wait), and glibc implements those with internal calls to its
// pthread functions that no interposer sees. GCC 12's libtsan intercepts
// pthread_create but not thrd_create: a thread librdkafka starts is unknown
// to TSan, whose runtime then crashes (SEGV, "nested bug") at that
// thread's first intercepted call. Linked into every test binary of a tsan
// build (third_party/system.BUILD, gtest_main), these definitions come
// before glibc's and route each call through the pthread function TSan
// intercepts. glibc's mtx_t and cnd_t are its pthread_mutex_t and
// pthread_cond_t (sysdeps/pthread/threads.h), and thrd_t is pthread_t.
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>
#include <cstdlib>

namespace {

int ToThrd(int err) {
  switch (err) {
    case 0:
      return thrd_success;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    case ENOMEM:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t func;
  void* arg;
};

void* RunC11Thread(void* arg) {
  const Start start = *static_cast<Start*>(arg);
  std::free(arg);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

pthread_mutex_t* Mutex(mtx_t* m) {
  return reinterpret_cast<pthread_mutex_t*>(m);
}
pthread_cond_t* Cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = static_cast<Start*>(std::malloc(sizeof(Start)));
  if (start == nullptr) return thrd_nomem;
  *start = Start{func, arg};
  pthread_t thread;
  const int err = ::pthread_create(&thread, nullptr, RunC11Thread, start);
  if (err != 0) {
    std::free(start);
    return err == EAGAIN ? thrd_nomem : thrd_error;
  }
  *thr = thread;
  return thrd_success;
}

int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  const int err = ::pthread_join(thr, &value);
  if (err == 0 && res != nullptr) {
    *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  }
  return ToThrd(err);
}

int thrd_detach(thrd_t thr) { return ToThrd(::pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) {
    ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  }
  const int err = ::pthread_mutex_init(Mutex(m), &attr);
  ::pthread_mutexattr_destroy(&attr);
  return ToThrd(err);
}

int mtx_lock(mtx_t* m) { return ToThrd(::pthread_mutex_lock(Mutex(m))); }
int mtx_trylock(mtx_t* m) { return ToThrd(::pthread_mutex_trylock(Mutex(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict ts) {
  return ToThrd(::pthread_mutex_timedlock(Mutex(m), ts));
}
int mtx_unlock(mtx_t* m) { return ToThrd(::pthread_mutex_unlock(Mutex(m))); }
void mtx_destroy(mtx_t* m) { ::pthread_mutex_destroy(Mutex(m)); }

int cnd_init(cnd_t* c) { return ToThrd(::pthread_cond_init(Cond(c), nullptr)); }
int cnd_signal(cnd_t* c) { return ToThrd(::pthread_cond_signal(Cond(c))); }
int cnd_broadcast(cnd_t* c) {
  return ToThrd(::pthread_cond_broadcast(Cond(c)));
}
int cnd_wait(cnd_t* c, mtx_t* m) {
  return ToThrd(::pthread_cond_wait(Cond(c), Mutex(m)));
}
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m,
                  const struct timespec* __restrict ts) {
  return ToThrd(::pthread_cond_timedwait(Cond(c), Mutex(m), ts));
}
void cnd_destroy(cnd_t* c) { ::pthread_cond_destroy(Cond(c)); }

}  // extern "C"
