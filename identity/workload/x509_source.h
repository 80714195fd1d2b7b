// X509Source: the X509SvidSource backed by the Workload API. One
// FetchX509SVID stream, reconnected with backoff, keeps the caller's
// X.509-SVIDs and bundles fresh.
//
// Like go-spiffe's workloadapi.X509Source: getters never block, callbacks
// run on the source's own thread in the order updates arrive, and losing the
// agent does not lose the last good state: the SVID is served until it
// expires by the Clock, then reported as expired (see x509_svid_source.h).
//
// What ends the source: only the agent's own verdict on the request, a
// stream that ends with gRPC status INVALID_ARGUMENT (go-spiffe's
// handleWatchError stops on exactly that, besides its caller's own
// cancellation, which here is Close()). Everything else is retried with
// backoff: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED not caused by Close,
// PERMISSION_DENIED (an unregistered workload may be registered a minute
// later; go-spiffe retries it too), and a response that does not parse.
// After an unparseable response the stream is dropped and a new one opened
// (go-spiffe keeps reading the same stream): the first message of a fresh
// stream is the agent's complete current state, so nothing is missed.
//
// Thread-safe. Destroying the source from one of its own callbacks is not
// allowed (the destructor joins the thread that runs them).
#ifndef MAYFLY_IDENTITY_WORKLOAD_X509_SOURCE_H_
#define MAYFLY_IDENTITY_WORKLOAD_X509_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/workload/client.h"
#include "identity/workload/watcher_set.h"
#include "identity/workload/x509_svid_source.h"

namespace mayfly::identity::workload {

class X509Source : public X509SvidSource {
 public:
  struct Options {
    // Called with each new context, on the source's thread.
    std::function<void(std::shared_ptr<const X509Context>)> on_update;
    // Called when the stream fails (it is retried after the backoff, unless
    // stopped() says the agent refused the request for good).
    std::function<void(const absl::Status&)> on_error;
    // Which SVID GetX509Svid serves (go-spiffe's x509svid picker): empty,
    // the default (the first of each update); else the one with this
    // SPIFFE ID, and Unavailable naming the ID, and the IDs on offer, while
    // the agent's current update has none. Current() and on_update still
    // see every SVID.
    std::string spiffe_id;
    // Reconnect backoff: doubles from min to max, with ±20% jitter.
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
    // Wall clock for SVID expiry and call deadlines; must outlive the
    // source.
    const Clock* clock = &RealClock();
  };

  static absl::StatusOr<std::unique_ptr<X509Source>> Start(
      absl::string_view endpoint_flag, Options options);
  ~X509Source() override;  // Close()s

  // X509SvidSource.
  absl::StatusOr<std::shared_ptr<const X509Svid>> GetX509Svid() const override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<X509Bundle> GetX509BundleForTrustDomain(
      const TrustDomain& trust_domain) const override ABSL_LOCKS_EXCLUDED(mu_);
  Subscription Watch(std::function<void()> on_change) override;

  // The newest context, or null before the first and once its earliest SVID
  // has expired.
  std::shared_ptr<const X509Context> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for the first context. DeadlineExceeded carries
  // the last error seen; a stopped source returns the agent's verdict.
  absl::StatusOr<std::shared_ptr<const X509Context>> WaitForFirst(
      absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the stream and joins the thread. Idempotent. No callback runs
  // once it returns.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Updates received so far.
  int64_t updates() const ABSL_LOCKS_EXCLUDED(mu_);
  // True once the agent's verdict ended the source (no more retries).
  bool stopped() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Why one stream ended. `agent_verdict` is true when the status is the
  // agent's answer to the request rather than something seen on the way.
  struct StreamEnd {
    absl::Status status;
    bool agent_verdict = false;
  };

  X509Source(std::unique_ptr<WorkloadClient> client, Options options)
      : client_(std::move(client)), options_(std::move(options)) {}

  void Run();
  // Reads one stream until it ends; resets `backoff` on each good update.
  StreamEnd ReadStream(absl::Duration& backoff) ABSL_LOCKS_EXCLUDED(mu_);
  void Publish(X509Context context) ABSL_LOCKS_EXCLUDED(mu_);

  std::unique_ptr<WorkloadClient> client_;
  const Options options_;
  const std::shared_ptr<WatcherSet> watchers_ = WatcherSet::Create();
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const X509Context> current_ ABSL_GUARDED_BY(mu_);
  // The SVID of current_ that GetX509Svid serves (Options::spiffe_id), or
  // null when current_ has none, with the reason in missing_svid_.
  std::shared_ptr<const X509Svid> picked_svid_ ABSL_GUARDED_BY(mu_);
  std::string missing_svid_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  int64_t updates_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // the agent said no for good
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_X509_SOURCE_H_
