// The socket hooks KafkaIdentity sets on a conf (socket_cb, connect_cb,
// closesocket_cb) and HandleContext, the relays of one rd_kafka_t behind
// them (kafka/CLIENT_DESIGN.md 1.1-1.2).
//
// Which handle a hook call belongs to: librdkafka runs the hooks on the
// broker thread of one handle, and the only opaque they get is the
// application's. KafkaIdentity's on_thread_start interceptor therefore
// calls SetThreadHandle at the top of each broker thread
// (broker.c:4381-4385), and the hooks read it from a thread_local. A hook
// on any other thread refuses (EPERM): never a socket that could carry
// plaintext to a broker.
//
// Thread-safe: a handle's broker threads call into one HandleContext.
#ifndef MAYFLY_KAFKA_CLIENT_SOCKET_HOOKS_H_
#define MAYFLY_KAFKA_CLIENT_SOCKET_HOOKS_H_

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "identity/unique_fd.h"
#include "kafka/client/relay.h"

namespace mayfly::kafka {

// The relays of one rd_kafka_t, keyed by librdkafka's fd.
class HandleContext {
 public:
  explicit HandleContext(std::shared_ptr<const RelayEnv> env);
  ~HandleContext();

  // How many HandleContexts exist in the process (for tests: one per live
  // handle made from a configured conf).
  static int64_t Live();

  // socket_cb: a socketpair; librdkafka gets one end. -1 with errno set.
  int OpenSocket() ABSL_LOCKS_EXCLUDED(mu_);
  // connect_cb: starts the relay for `fd`; 0, or an errno for librdkafka
  // to report and retry with backoff: EPERM for an fd OpenSocket did not
  // make, ENOKEY when there is no SVID to present, EMFILE at
  // max_connections, ENOBUFS at max_buffered_bytes, EAGAIN when no thread
  // can be started (ClientOptions). Never throws.
  int Connect(int fd, const sockaddr* addr, int addr_len, const char* name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // closesocket_cb: stops `fd`'s relay (without waiting) and closes `fd`.
  int Close(int fd) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Keeps librdkafka in CONNECT (CLIENT_DESIGN.md 1.2): the smallest send
  // buffer, filled. The relay empties it once its upstream is proven.
  static bool Hold(int fd, HeldClient& held);
  // Counts and logs a refused connect; returns `err`.
  int Refuse(absl::string_view broker, const absl::Status& why, int err);
  // Destroys stopped relays whose threads have ended (joins at once).
  void Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<const RelayEnv> env_;
  absl::Mutex mu_;
  std::map<int, identity::UniqueFd> pending_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::unique_ptr<Relay>> relays_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Relay>> stopping_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seed_ ABSL_GUARDED_BY(mu_) = 1;
};

// The handle whose broker connections this thread's hook calls serve; null
// for a thread that is not a broker thread of a configured handle.
void SetThreadHandle(HandleContext* context);

// The hooks, with librdkafka's signatures.
int SocketHook(int domain, int type, int protocol, void* opaque);
int ConnectHook(int fd, const sockaddr* addr, int addr_len, const char* name,
                void* opaque);
int CloseSocketHook(int fd, void* opaque);

// "1.2.3.4:port" or "[::1]:port" into `target`'s address; false if it is
// neither (ClientOptions::connect_to).
bool ParseIpPort(absl::string_view text, BrokerTarget& target);

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_SOCKET_HOOKS_H_
