// An X509Source: the caller's current X.509-SVIDs and bundles, kept fresh by
// one FetchX509SVID stream that reconnects with backoff.
//
// Like go-spiffe's workloadapi.X509Source: Current() never blocks, change
// callbacks run on the source's own thread in the order updates arrive, and
// a lost agent does not lose the last good state (an SVID stays usable
// until it expires). InvalidArgument from the agent is a bug in the request
// and stops the source; every other failure is retried.
//
// Thread-safe.
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
#include "identity/workload/client.h"

namespace mayfly::identity::workload {

class X509Source {
 public:
  struct Options {
    // Called with each new context, on the source's thread.
    std::function<void(std::shared_ptr<const X509Context>)> on_update;
    // Called when the stream fails (it is retried after the backoff).
    std::function<void(const absl::Status&)> on_error;
    // Reconnect backoff: doubles from min to max, with ±20% jitter.
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
  };

  static absl::StatusOr<std::unique_ptr<X509Source>> Start(
      absl::string_view endpoint_flag, Options options);
  ~X509Source();  // Close()s

  // The newest context, or null before the first.
  std::shared_ptr<const X509Context> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for the first context. DeadlineExceeded carries
  // the last error seen.
  absl::StatusOr<std::shared_ptr<const X509Context>> WaitForFirst(
      absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the stream and joins the thread. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Updates received so far.
  int64_t updates() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  X509Source(std::unique_ptr<WorkloadClient> client, Options options)
      : client_(std::move(client)), options_(std::move(options)) {}

  void Run();

  std::unique_ptr<WorkloadClient> client_;
  const Options options_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const X509Context> current_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  int64_t updates_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // thread gave up
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_X509_SOURCE_H_
