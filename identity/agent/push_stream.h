// A server stream that always sends the newest message and never blocks the
// sender.
//
// Push() replaces whatever is waiting to be sent: a client that reads slowly
// gets fewer, newer messages, and the thread that pushes (a rotation, a
// bundle change) never waits for it. Each message carries a generation; the
// stream reports the generation of the last message the transport accepted.
//
// gRPC may run a reaction inline inside StartWrite or Finish, so no lock is
// held while calling them, and Finish is only called with no write in flight.
//
// The object owns itself from Start() until gRPC calls OnDone. Thread-safe.
//
// X509SvidStream is the FetchX509SVID stream built on it: a registry
// subscriber that attests its process again before each delivery.
#ifndef MAYFLY_IDENTITY_AGENT_PUSH_STREAM_H_
#define MAYFLY_IDENTITY_AGENT_PUSH_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "identity/agent/attestor.h"
#include "identity/agent/callers.h"
#include "identity/agent/delivery_attestations.h"
#include "identity/agent/registry.h"
#include "third_party/spiffe/workloadapi.pb.h"

namespace mayfly::agent {

template <typename Response>
class PushStream : public grpc::ServerWriteReactor<Response>,
                   public std::enable_shared_from_this<PushStream<Response>> {
 public:
  // Runs once, after gRPC is done with the stream.
  using DoneCallback = std::function<void()>;

  // Takes ownership of itself until OnDone; returns the reactor for gRPC.
  // `superseded`, if set, counts the messages replaced before they could be
  // sent because the client was still reading an older one.
  grpc::ServerWriteReactor<Response>* Start(
      DoneCallback on_done, std::atomic<int64_t>* superseded = nullptr) {
    on_done_ = std::move(on_done);
    superseded_ = superseded;
    self_ = this->shared_from_this();
    return this;
  }

  void Push(std::shared_ptr<const Response> message, uint64_t generation)
      ABSL_LOCKS_EXCLUDED(mu_) {
    PushImpl(std::move(message), generation, /*only_if_first=*/false);
  }

  // Push, unless something was pushed already (which is then newer).
  void PushFirst(std::shared_ptr<const Response> message, uint64_t generation)
      ABSL_LOCKS_EXCLUDED(mu_) {
    PushImpl(std::move(message), generation, /*only_if_first=*/true);
  }

  // Ends the stream with `status` once the write in flight, if any, is done.
  void End(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      finishing_ = true;
      if (writing_ != nullptr) {
        finish_status_ = status;
        return;
      }
    }
    this->Finish(status);
  }

  uint64_t DeliveredGeneration() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return delivered_generation_;
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    std::optional<grpc::Status> finish;
    const Response* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (ok) delivered_generation_ = writing_generation_;
      // writing_ stays alive until here: gRPC may still read it.
      writing_ = nullptr;
      if (finishing_) {
        // End() waited for this write.
        finish = finish_status_;
        finish_status_.reset();
      } else if (!ok) {
        // The client went away. gRPC calls OnDone only after Finish.
        finishing_ = true;
        finish = grpc::Status::CANCELLED;
      } else if (pending_ != nullptr) {
        writing_ = std::move(pending_);
        writing_generation_ = pending_generation_;
        next = writing_.get();
      }
    }
    if (finish) this->Finish(*finish);
    if (next != nullptr) this->StartWrite(next);
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    if (on_done_) on_done_();
    // May delete this: nothing after it.
    self_.reset();
  }

 private:
  void PushImpl(std::shared_ptr<const Response> message, uint64_t generation,
                bool only_if_first) ABSL_LOCKS_EXCLUDED(mu_) {
    const Response* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_ || (only_if_first && pushed_)) return;
      pushed_ = true;
      if (pending_ != nullptr && superseded_ != nullptr) {
        superseded_->fetch_add(1, std::memory_order_relaxed);
      }
      pending_ = std::move(message);
      pending_generation_ = generation;
      if (writing_ != nullptr) return;  // OnWriteDone sends it
      writing_ = std::move(pending_);
      writing_generation_ = pending_generation_;
      next = writing_.get();
    }
    this->StartWrite(next);
  }

  DoneCallback on_done_;
  std::atomic<int64_t>* superseded_ = nullptr;
  std::shared_ptr<PushStream> self_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Response> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t pending_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const Response> writing_ ABSL_GUARDED_BY(mu_);
  uint64_t writing_generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t delivered_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool pushed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
};

// Why a stream ends when its process is gone or has become another binary.
// PermissionDenied, as for any caller that cannot be attested: a client
// that still wants an SVID opens a new stream and is attested as itself.
inline constexpr char kStreamProcessExited[] =
    "the process this stream was attested for has exited";
inline constexpr char kStreamProcessChanged[] =
    "the process this stream was attested for has changed since: its "
    "selectors differ (it exec'd another binary, or its groups or names "
    "changed); open a new stream to be attested again";

class X509SvidStream : public PushStream<X509SVIDResponse>,
                       public X509Subscriber {
 public:
  // `selectors`: what `caller` was attested as when the stream opened.
  X509SvidStream(DeliveryAttestations& attestations, Caller caller,
                 std::vector<std::string> selectors)
      : attestations_(attestations),
        caller_(std::move(caller)),
        selectors_(std::move(selectors)) {}

  // Attests the process again first (once per renewal for all its streams):
  // an SVID goes only to the process it was attested for, still running the
  // binary it was attested as.
  void Deliver(const X509Update& update) override {
    absl::StatusOr<std::vector<std::string>> now =
        attestations_.Selectors(caller_, update.response);
    if (!now.ok()) {
      // NotFound: exited, or its pid names another process now.
      End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                       absl::IsNotFound(now.status())
                           ? kStreamProcessExited
                           : absl::StrCat("could not attest the caller again: ",
                                          now.status().message())));
      return;
    }
    if (*now != selectors_) {
      End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                       kStreamProcessChanged));
      return;
    }
    Push(update.response, update.bundle_generation);
  }
  void Revoke(const absl::Status& status) override {
    End(grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                     std::string(status.message())));
  }
  uint64_t DeliveredBundleGeneration() const override {
    return DeliveredGeneration();
  }

 private:
  DeliveryAttestations& attestations_;
  const Caller caller_;
  const std::vector<std::string> selectors_;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_PUSH_STREAM_H_
