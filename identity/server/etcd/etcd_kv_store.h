// KvStore over an etcd v3 cluster (gRPC), for mayfly-server replicas that
// share one store.
//
// Every call carries gRPC metadata `hasleader: true`, so a member cut off
// from its cluster answers Unavailable ("etcdserver: no leader") instead of
// hanging. Reads are linearizable (etcd's default), so a read on any member
// sees every write acknowledged before it started.
//
// Fail-over: calls go to the member that answered last. A read (Range, Get)
// that fails Unavailable or DeadlineExceeded on one member is tried once on
// each of the others; when none answers, Unavailable lists every member's
// error. A Txn moves on to the next member only when it cannot have been
// applied: the member was not connected (nothing was sent), or it answered
// "no leader" (etcd refuses those before proposing anything). Once a Txn
// was sent and its answer lost (connection broken, deadline), its outcome is
// unknown: Txn returns Unavailable saying so, and the caller re-reads before
// deciding to try again (our compares are on mod_revision, so a re-read
// shows whether the write landed). No call is retried on the same member.
// A Txn in flight when the leader dies usually ends so: its member had
// forwarded it to the dead leader, and it runs into the call deadline.
//
// A member that was down is used again once gRPC has reconnected to it,
// within the reconnect backoff (capped at 2 s; 1.3-1.8 s measured). A
// connect attempt that reaches it while it is starting and not serving yet
// can hold that up by about 10 s: gRPC 1.51 keeps a failed channel failed
// and drives such a connection only from its 5 s backup poller. Calls go
// to the other members meanwhile.
//
// Watches: each has a stream and a reader thread of its own, opened on the
// first member that accepts it. An error ends the watch as kv_store.h says:
// OutOfRange when the start revision was compacted, Unavailable when the
// stream breaks (its member died, or lost its leader for a while) or no
// member accepts it.
//
// Thread-safe. The store must outlive its WatchHandles; a WatchHandle must
// not be destroyed inside its own callback (its destructor joins the thread
// that runs the callback).
#ifndef MAYFLY_IDENTITY_SERVER_ETCD_ETCD_KV_STORE_H_
#define MAYFLY_IDENTITY_SERVER_ETCD_ETCD_KV_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/server/kv_store.h"

namespace mayfly::server {

namespace etcd_internal {
class Client;
}  // namespace etcd_internal

class EtcdKvStore final : public KvStore {
 public:
  // Long enough for a linearizable read or a write during a leader election
  // (etcd's default election timeout is 1 s); short enough that a hung
  // member is left behind quickly.
  static constexpr absl::Duration kDefaultCallTimeout = absl::Seconds(5);

  struct Options {
    // "host:port" of each member's client URL, at least one.
    std::vector<std::string> endpoints;
    // TLS, for production: set ca_file to verify the members against it
    // (else the system roots when cert/key are set), cert_file and key_file
    // (PEM, both or neither) for a client certificate. All empty:
    // plaintext, as on loopback in tests.
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // The deadline of each unary call on one member.
    absl::Duration call_timeout = kDefaultCallTimeout;
  };

  // InvalidArgument for no endpoints, an endpoint that is not "host:port",
  // a cert without a key (or a key without a cert), a timeout <= 0; the
  // error of reading a TLS file, naming it. Connects lazily: a cluster that
  // is down makes the first calls fail, not Create.
  static absl::StatusOr<std::unique_ptr<EtcdKvStore>> Create(
      const Options& options);

  ~EtcdKvStore() override;

  // "etcd http://127.0.0.1:2379,http://..." (https with TLS).
  std::string Describe() const override;

  // `limit` must not be negative. InvalidArgument for a prefix longer than
  // kMaxKeyBytes.
  absl::StatusOr<RangeResult> Range(const std::string& prefix,
                                    int64_t limit) override;
  absl::StatusOr<KeyValue> Get(const std::string& key) override;
  // InvalidArgument, naming the key, for an empty key, a key over
  // kMaxKeyBytes or a value over kMaxValueBytes; etcd's own InvalidArgument
  // for one key written twice.
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& ops) override;
  absl::StatusOr<std::unique_ptr<WatchHandle>> Watch(
      const std::string& prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback) override;

 private:
  explicit EtcdKvStore(std::unique_ptr<etcd_internal::Client> client);

  std::unique_ptr<etcd_internal::Client> client_;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_ETCD_ETCD_KV_STORE_H_
