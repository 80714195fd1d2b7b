// The reader thread of an etcd watch.
#include "identity/server/etcd/internal/etcd_watch.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mayfly::server::etcd_internal {
namespace {

WatchBatch EventsOf(const etcdserverpb::WatchResponse& response) {
  WatchBatch batch;
  for (const mvccpb::Event& e : response.events()) {
    WatchEvent event;
    event.kind = e.type() == mvccpb::Event::DELETE ? WatchEvent::Kind::kDelete
                                                   : WatchEvent::Kind::kPut;
    event.kv.key = e.kv().key();
    if (event.kind == WatchEvent::Kind::kPut) event.kv.value = e.kv().value();
    // A delete's kv is a tombstone whose mod_revision is the deletion's.
    event.kv.mod_revision = e.kv().mod_revision();
    batch.events.push_back(std::move(event));
  }
  // etcd never splits one revision's events between responses (we do not
  // ask for fragments), so everything up to the last event's revision has
  // been seen.
  batch.revision = batch.events.back().kv.mod_revision;
  return batch;
}

}  // namespace

std::unique_ptr<EtcdWatch> EtcdWatch::Start(
    Client& client, std::string prefix, int64_t from_revision,
    std::function<void(const WatchBatch&)> callback) {
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch(
      client, std::move(prefix), from_revision, std::move(callback)));
  watch->thread_ = std::thread([w = watch.get()] { w->Run(); });
  return watch;
}

EtcdWatch::EtcdWatch(Client& client, std::string prefix, int64_t from_revision,
                     std::function<void(const WatchBatch&)> callback)
    : client_(client),
      prefix_(std::move(prefix)),
      from_revision_(from_revision),
      callback_(std::move(callback)) {}

EtcdWatch::~EtcdWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  thread_.join();
}

bool EtcdWatch::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool EtcdWatch::Deliver(const WatchBatch& batch) {
  // The destructor may start right after this check; it then waits in
  // join() for this callback to return, which the contract allows.
  if (stopping()) return false;
  callback_(batch);
  return true;
}

void EtcdWatch::Run() {
  std::vector<std::string> refusals;
  const size_t start = client_.preferred();
  for (size_t i = 0; i < client_.size(); ++i) {
    const Ended ended = Follow(start + i);
    if (stopping()) return;
    if (ended.created ||
        ended.status.code() != absl::StatusCode::kUnavailable) {
      // After the member accepted the watch, any end is the watch's end.
      if (!ended.status.ok()) Deliver(WatchBatch{ended.status, 0, {}});
      return;
    }
    refusals.push_back(std::string(ended.status.message()));
  }
  Deliver(WatchBatch{
      absl::UnavailableError(absl::StrCat(
          "etcd: watch ", QuoteKey(prefix_), " after revision ", from_revision_,
          ": no member accepted it: ", absl::StrJoin(refusals, "; "))),
      0,
      {}});
}

EtcdWatch::Ended EtcdWatch::Follow(size_t index) {
  Member& member = client_.member(index);
  const std::string where =
      absl::StrCat("etcd ", member.endpoint, ": watch ", QuoteKey(prefix_),
                   " after revision ", from_revision_);
  grpc::ClientContext context;
  Client::PrepareStream(context);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return Ended{};
    context_ = &context;
  }
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                           etcdserverpb::WatchResponse>>
      stream = member.watch->Watch(&context);

  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest& create = *request.mutable_create_request();
  // etcd wants a non-empty key; "\0" to "\0" is every key.
  create.set_key(prefix_.empty() ? std::string(1, '\0') : prefix_);
  create.set_range_end(PrefixRangeEnd(prefix_));
  create.set_start_revision(from_revision_ + 1);  // from_revision: exclusive
  create.set_progress_notify(true);

  Ended ended;
  bool cancelled = false;  // by us
  etcdserverpb::WatchResponse response;
  if (stream->Write(request)) {
    while (stream->Read(&response)) {
      if (response.compact_revision() != 0) {
        ended.status = absl::OutOfRangeError(absl::StrCat(
            where, ": compacted up to revision ", response.compact_revision(),
            "; read again and watch from there"));
      } else if (response.canceled()) {
        ended.status = absl::UnavailableError(absl::StrCat(
            where, ": cancelled by etcd: ", response.cancel_reason()));
      } else if (response.created()) {
        ended.created = true;
        client_.Prefer(index);
        continue;
      } else if (response.events_size() > 0) {
        if (Deliver(EventsOf(response))) continue;
      } else {
        // A progress notification: nothing under the prefix up to here.
        if (Deliver(WatchBatch{
                absl::OkStatus(), response.header().revision(), {}})) {
          continue;
        }
      }
      // An error to deliver, or we are stopping (the destructor cancelled
      // the stream already; once more does no harm): end the stream so
      // that Finish does not wait for etcd.
      cancelled = true;
      context.TryCancel();
      break;
    }
  }
  const grpc::Status finish = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (!cancelled && ended.status.ok() && !stopping()) {
    const bool transient =
        finish.error_code() == grpc::StatusCode::UNAVAILABLE ||
        finish.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (ended.created || transient || finish.ok()) {
      // The stream ended under us: the member died, or it lost its leader
      // (hasleader) for a while. Before "created", the next member may
      // take the watch.
      ended.status = absl::UnavailableError(absl::StrCat(
          where, ended.created ? ": stream broken: " : ": refused: ",
          finish.error_message(), " (gRPC code ", finish.error_code(), ")"));
    } else {
      ended.status = FromGrpc(finish, where);
    }
  }
  return ended;
}

}  // namespace mayfly::server::etcd_internal
