// A TLS front for Kafka in the client library's tests (kafka/CLIENT_DESIGN.md
// "Test plan"): a server on 127.0.0.1 that presents a broker SVID the test
// mints, requires the client's certificate and checks it with the repo's
// VerifyX509Svid against a bundle the test gives, and then either relays the
// decrypted bytes to a plaintext upstream (librdkafka's mock cluster) or
// answers from a script. Like the broker plugin, it closes a connection at
// the first TLS record it reads after the client certificate's NotAfter (a
// bare end of stream then is an ordinary close).
//
// Every accepted connection gets its own thread; their number is bounded by
// FakeBrokerOptions::max_connections (those beyond are closed at once and
// counted). Every blocking step is bounded by io_timeout or ended by Stop().
// SIGPIPE is blocked on the broker's threads only, so the client code under
// test stays exposed to it.
//
// Thread-safe: every method may be called from any thread, the script runs on
// the connection's thread with no lock held. Byte counts are updated before
// the bytes reach the other side: a test that has read them reads the count.
#ifndef MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_H_
#define MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/unique_fd.h"
#include "identity/x509_svid.h"

namespace mayfly::kafka {

enum class FakeBrokerMode {
  // Every byte from the client goes to `upstream` and back.
  kForward,
  // What the client sends goes to `script`, whose reply goes back.
  kScripted,
};

// Why a connection ended.
enum class FakeBrokerClose {
  kOpen,             // still served
  kTooMany,          // beyond max_connections: closed before the handshake
  kHandshakeFailed,  // TLS or the client's SVID failed
  kRefused,          // the client's ID is refused: closed after the handshake
  kExpired,          // a TLS record read after the client cert's NotAfter
  kClientClosed,     // the client closed (or reset) its end
  kUpstreamClosed,   // forward: the upstream closed its end
  kScriptDone,       // scripted: the script asked to close
  kStopped,          // Stop()
  kError,            // I/O error, upstream unreachable, timeout: see `error`
};

// What the broker knows of one connection, in accept order.
struct FakeBrokerConnection {
  int index = 0;
  bool handshake_ok = false;
  // Why the handshake or the connection failed; from VerifyX509Svid when the
  // client's chain was refused.
  std::string error;
  std::string sni;  // the client's server name, "" if none
  // From the client's verified chain (empty until it is verified).
  std::string client_id;
  std::string client_serial;  // leaf serial, lowercase hex
  absl::Time client_not_after = absl::InfinitePast();
  int client_chain_length = 0;  // certificates the client sent, leaf included
  int64_t bytes_from_client = 0;
  int64_t bytes_to_client = 0;
  // Scripted mode: every byte read from the client.
  std::string received;
  FakeBrokerClose close = FakeBrokerClose::kOpen;
};

// A scripted broker's answer to the bytes of one read.
struct ScriptedReply {
  std::string bytes;  // written back to the client
  bool close = true;  // then close_notify and close
};

struct FakeBrokerOptions {
  FakeBrokerMode mode = FakeBrokerMode::kForward;
  // kForward: "127.0.0.1:PORT" or "localhost:PORT" (what
  // rd_kafka_mock_cluster_bootstraps gives for one broker).
  std::string upstream;
  // kScripted: called with the connection's record and the bytes just read.
  // Unset: echo, never close.
  std::function<ScriptedReply(const FakeBrokerConnection&, absl::string_view)>
      script;
  // Judges the client's NotAfter and chain. Null: the real clock. Must
  // outlive the broker.
  const identity::Clock* clock = nullptr;
  // Clients with these SPIFFE IDs are closed right after the handshake.
  std::set<std::string> refused_ids;
  // Bound on the connections served over the broker's life.
  int max_connections = 64;
  // Bound on the handshake and on each write that cannot progress.
  absl::Duration io_timeout = absl::Seconds(10);
  // Open a listener on 127.0.0.1:0; false: only Serve() connections.
  bool listen = true;
};

class FakeBroker {
 public:
  // Presents `svid` (its whole chain) and trusts clients of `client_bundle`.
  static absl::StatusOr<std::unique_ptr<FakeBroker>> Start(
      const identity::X509Svid& svid, identity::X509Bundle client_bundle,
      FakeBrokerOptions options);
  // Stop().
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  // "127.0.0.1:PORT" of the listener ("" when not listening).
  std::string address() const { return address_; }
  int port() const { return port_; }

  // Serves an already connected stream socket (a socketpair end) as if
  // accepted. FailedPrecondition after Stop().
  absl::Status Serve(identity::UniqueFd fd) ABSL_LOCKS_EXCLUDED(mu_);

  // Root rotation: new handshakes present `svid` / trust `bundle`;
  // connections already served keep what they have.
  absl::Status SetSvid(const identity::X509Svid& svid) ABSL_LOCKS_EXCLUDED(mu_);
  void SetClientBundle(identity::X509Bundle bundle) ABSL_LOCKS_EXCLUDED(mu_);
  void SetRefusedIds(std::set<std::string> ids) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits (real time, at most `timeout`) until `n` connections have ended.
  bool WaitForClosed(int n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `n` connections are open past the handshake (or ended).
  bool WaitForAccepted(int n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the listener and every connection, joins every thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<FakeBrokerConnection> connections() const
      ABSL_LOCKS_EXCLUDED(mu_);
  int connections_accepted() const ABSL_LOCKS_EXCLUDED(mu_);
  int handshakes_failed() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t bytes_forwarded() const ABSL_LOCKS_EXCLUDED(mu_);  // both ways
  int expired_closes() const ABSL_LOCKS_EXCLUDED(mu_);
  int refused_clients() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using SharedCtx = std::shared_ptr<SSL_CTX>;
  class Session;  // one connection: fake_broker_session.cc

  FakeBroker(FakeBrokerOptions options, identity::X509Bundle bundle);
  absl::StatusOr<SharedCtx> MakeContext(const identity::X509Svid& svid);
  void AcceptLoop();
  static int VerifyClient(X509_STORE_CTX* store, void* arg);

  const FakeBrokerOptions options_;
  const identity::Clock& clock_;
  identity::UniqueFd listener_;
  std::string address_;
  int port_ = 0;
  // Written once by Stop(); readable by every poll() of the broker.
  identity::UniqueFd stop_read_;
  identity::UniqueFd stop_write_;
  std::thread acceptor_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  SharedCtx ctx_ ABSL_GUARDED_BY(mu_);
  identity::X509Bundle bundle_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> refused_ids_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeBrokerConnection> records_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int closed_ ABSL_GUARDED_BY(mu_) = 0;
  int handshakes_failed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t bytes_forwarded_ ABSL_GUARDED_BY(mu_) = 0;
  int expired_closes_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_clients_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_H_
