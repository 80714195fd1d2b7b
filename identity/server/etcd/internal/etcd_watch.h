// One etcd watch: a Watch stream and the thread that reads it and runs the
// callback. Internal to identity/server/etcd; etcd_kv_store.h states the
// contract.
//
// The thread opens the stream on the preferred member, or the next one
// while members refuse it (Unavailable before the watch was created), and
// then delivers until the stream ends. The destructor cancels the stream
// and joins the thread, so no callback runs after it returns.
#ifndef MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_WATCH_H_
#define MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_WATCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "identity/server/etcd/internal/etcd_client.h"
#include "identity/server/kv_store.h"

namespace mayfly::server::etcd_internal {

class EtcdWatch final : public WatchHandle {
 public:
  // `client` must outlive the watch.
  static std::unique_ptr<EtcdWatch> Start(
      Client& client, std::string prefix, int64_t from_revision,
      std::function<void(const WatchBatch&)> callback);

  ~EtcdWatch() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // How one stream ended.
  struct Ended {
    // The member accepted the watch (a "created" answer came).
    bool created = false;
    // Why it ended; OK if we cancelled it (the destructor, or after an
    // error that was delivered already).
    absl::Status status;
  };

  EtcdWatch(Client& client, std::string prefix, int64_t from_revision,
            std::function<void(const WatchBatch&)> callback);

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Opens the watch on member `index` and follows it until it ends.
  Ended Follow(size_t index) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the callback unless the watch is being stopped; false then.
  bool Deliver(const WatchBatch& batch) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  Client& client_;
  const std::string prefix_;
  const int64_t from_revision_;
  const std::function<void(const WatchBatch&)> callback_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The stream being read, for the destructor to cancel; owned by Follow.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread thread_;
};

}  // namespace mayfly::server::etcd_internal

#endif  // MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_WATCH_H_
