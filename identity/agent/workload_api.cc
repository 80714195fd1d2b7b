// The Workload API service: see workload_api.h.
#include "identity/agent/workload_api.h"

#include <algorithm>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/jwt.h"
#include "identity/status_macros.h"

namespace mayfly::agent {
namespace {

template <typename Response>
grpc::ServerWriteReactor<Response>* Refuse(const absl::Status& status) {
  auto stream = std::make_shared<PushStream<Response>>();
  auto* reactor = stream->Start(nullptr);
  stream->End(ToGrpcStatus(status));
  return reactor;
}

// Drops the streams that are gone.
template <typename T>
void Prune(std::vector<std::weak_ptr<T>>& streams) {
  streams.erase(std::remove_if(streams.begin(), streams.end(),
                               [](const auto& w) { return w.expired(); }),
                streams.end());
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

WorkloadApiService::WorkloadApiService(Registry& registry, CallerTable& callers,
                                       UnixAttestor& attestor,
                                       ExitWatcher& exit_watcher,
                                       const identity::Clock& clock)
    : registry_(registry),
      callers_(callers),
      attestor_(attestor),
      exit_watcher_(exit_watcher),
      clock_(clock) {}

template <typename Response>
grpc::ServerWriteReactor<Response>* WorkloadApiService::StartStream(
    const std::shared_ptr<PushStream<Response>>& stream, const Caller& caller,
    std::function<void()> on_done) {
  // gRPC calls OnDone only after this method has returned the reactor, so
  // the watch is in place before on_done can cancel it.
  auto watch = std::make_shared<std::atomic<ExitWatcher::WatchId>>(0);
  auto* reactor = stream->Start(
      [this, watch, on_done = std::move(on_done)] {
        exit_watcher_.Cancel(watch->load());
        on_done();
      },
      &counters_.superseded_messages);
  std::weak_ptr<PushStream<Response>> weak = stream;
  watch->store(exit_watcher_.Watch(caller.process, [weak] {
    if (auto s = weak.lock()) {
      s->End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          kStreamProcessExited));
    }
  }));
  return reactor;
}

absl::StatusOr<WorkloadApiService::Attested> WorkloadApiService::Admit(
    absl::string_view rpc, grpc::CallbackServerContext& context) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  const auto& metadata = context.client_metadata();
  auto header = metadata.find(kWorkloadHeader);
  if (header == metadata.end() || header->second != "true") {
    counters_.rejected_requests.fetch_add(1, std::memory_order_relaxed);
    return Refused(
        rpc, context, nullptr,
        absl::InvalidArgumentError(absl::StrCat(
            "security header missing from request: every Workload API "
            "request must carry metadata \"",
            kWorkloadHeader, ": true\"")));
  }
  absl::StatusOr<Caller> caller = callers_.Lookup(context.peer());
  if (!caller.ok()) {
    counters_.rejected_requests.fetch_add(1, std::memory_order_relaxed);
    return Refused(rpc, context, nullptr, caller.status());
  }
  absl::StatusOr<WorkloadAttributes> attributes =
      attestor_.Attest(caller->peer, *caller->process);
  if (!attributes.ok()) {
    counters_.attestation_failures.fetch_add(1, std::memory_order_relaxed);
    return Refused(
        rpc, context, nullptr,
        absl::PermissionDeniedError(absl::StrCat(
            "could not attest the caller: ", attributes.status().message())));
  }
  return Attested{*std::move(caller), attributes->Selectors()};
}

absl::Status WorkloadApiService::Refused(
    absl::string_view rpc, const grpc::CallbackServerContext& context,
    const Attested* attested, absl::Status status) {
  int64_t held_back = 0;
  if (!refusal_log_.Allow(held_back)) return status;
  std::vector<std::pair<absl::string_view, std::string>> fields = {
      {"rpc", std::string(rpc)},
      {"code", absl::StatusCodeToString(status.code())},
      {"reason", std::string(status.message())}};
  if (attested == nullptr) {
    fields.push_back({"peer", context.peer()});
  } else {
    fields.push_back({"pid", absl::StrCat(attested->caller.peer.pid)});
    fields.push_back({"uid", absl::StrCat(attested->caller.peer.uid)});
    fields.push_back({"selectors", absl::StrJoin(attested->selectors, " ")});
  }
  if (held_back > 0) {
    fields.push_back({"refusals_not_logged", absl::StrCat(held_back)});
  }
  LogWarn("request_refused", fields);
  return status;
}

grpc::ServerWriteReactor<X509SVIDResponse>* WorkloadApiService::FetchX509SVID(
    grpc::CallbackServerContext* context, const X509SVIDRequest* /*request*/) {
  constexpr absl::string_view kRpc = "FetchX509SVID";
  absl::StatusOr<Attested> attested = Admit(kRpc, *context);
  if (!attested.ok()) return Refuse<X509SVIDResponse>(attested.status());
  const Caller& caller = attested->caller;
  if (absl::Status s = callers_.OpenStream(caller); !s.ok()) {
    return Refuse<X509SVIDResponse>(Refused(kRpc, *context, &*attested, s));
  }
  auto stream = std::make_shared<X509SvidStream>(
      delivery_attestations_, attested->caller, attested->selectors);
  absl::StatusOr<X509Update> first =
      registry_.Subscribe(attested->selectors, stream);
  if (!first.ok()) {
    callers_.CloseStream(caller);
    return Refuse<X509SVIDResponse>(
        Refused(kRpc, *context, &*attested, first.status()));
  }
  counters_.active_streams.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    Prune(x509_streams_);
    x509_streams_.push_back(stream);
  }
  const X509Subscriber* key = stream.get();
  auto* reactor =
      StartStream<X509SVIDResponse>(stream, caller, [this, key, caller] {
        registry_.Unsubscribe(key);
        callers_.CloseStream(caller);
        counters_.active_streams.fetch_sub(1, std::memory_order_relaxed);
      });
  // A rotation between Subscribe and here was delivered already and is
  // newer: the stream keeps the newest of the two.
  stream->PushFirst(first->response, first->bundle_generation);
  return reactor;
}

template <typename Response>
grpc::ServerWriteReactor<Response>* WorkloadApiService::OpenBundleStream(
    absl::string_view rpc, grpc::CallbackServerContext& context,
    std::vector<std::weak_ptr<PushStream<Response>>>& streams,
    std::shared_ptr<const Response> (WorkloadApiService::*build)() const) {
  absl::StatusOr<Attested> attested = Admit(rpc, context);
  if (!attested.ok()) return Refuse<Response>(attested.status());
  // Bundles are public, but only registered workloads learn them here, as
  // in SPIRE.
  if (registry_.Match(attested->selectors).empty()) {
    return Refuse<Response>(
        Refused(rpc, context, &*attested,
                absl::PermissionDeniedError(
                    "no registration entry matches this workload")));
  }
  const Caller& caller = attested->caller;
  if (absl::Status s = callers_.OpenStream(caller); !s.ok()) {
    return Refuse<Response>(Refused(rpc, context, &*attested, s));
  }
  auto stream = std::make_shared<PushStream<Response>>();
  std::shared_ptr<const Response> first;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (signing_ == nullptr) {
      callers_.CloseStream(caller);
      return Refuse<Response>(
          absl::UnavailableError("the agent has no trust bundle yet"));
    }
    Prune(streams);
    streams.push_back(stream);
    first = (this->*build)();
    generation = signing_->bundle_generation;
  }
  counters_.active_streams.fetch_add(1, std::memory_order_relaxed);
  auto* reactor = StartStream<Response>(stream, caller, [this, caller] {
    callers_.CloseStream(caller);
    counters_.active_streams.fetch_sub(1, std::memory_order_relaxed);
  });
  stream->Push(std::move(first), generation);
  return reactor;
}

grpc::ServerWriteReactor<X509BundlesResponse>*
WorkloadApiService::FetchX509Bundles(grpc::CallbackServerContext* context,
                                     const X509BundlesRequest* /*request*/) {
  return OpenBundleStream("FetchX509Bundles", *context, x509_bundle_streams_,
                          &WorkloadApiService::X509BundlesLocked);
}

grpc::ServerWriteReactor<JWTBundlesResponse>*
WorkloadApiService::FetchJWTBundles(grpc::CallbackServerContext* context,
                                    const JWTBundlesRequest* /*request*/) {
  return OpenBundleStream("FetchJWTBundles", *context, jwt_bundle_streams_,
                          &WorkloadApiService::JwtBundlesLocked);
}

grpc::ServerUnaryReactor* WorkloadApiService::FetchJWTSVID(
    grpc::CallbackServerContext* context, const JWTSVIDRequest* request,
    JWTSVIDResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status;
  if (request->audience().empty()) {
    status = absl::InvalidArgumentError("audience must be specified");
  } else {
    constexpr absl::string_view kRpc = "FetchJWTSVID";
    absl::StatusOr<Attested> attested = Admit(kRpc, *context);
    if (!attested.ok()) {
      status = attested.status();
    } else if (status = MintJwtSvids(*attested, *request, *response);
               !status.ok()) {
      status = Refused(kRpc, *context, &*attested, std::move(status));
    }
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* WorkloadApiService::ValidateJWTSVID(
    grpc::CallbackServerContext* context, const ValidateJWTSVIDRequest* request,
    ValidateJWTSVIDResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status;
  if (request->audience().empty()) {
    status = absl::InvalidArgumentError("audience must be specified");
  } else if (request->svid().empty()) {
    status = absl::InvalidArgumentError("svid must be specified");
  } else if (absl::StatusOr<Attested> attested =
                 Admit("ValidateJWTSVID", *context);
             !attested.ok()) {
    status = attested.status();
  } else if (std::shared_ptr<const SigningState> state = signing();
             state == nullptr || state->jwt_bundle == nullptr) {
    status = absl::UnavailableError("the agent has no JWT bundle yet");
  } else {
    // Open to unregistered callers, as in SPIRE (a verifier needs no
    // identity of its own). That is safe because one call is cheap and
    // bounded: the token's size is capped before decoding, the signature is
    // checked before the claims are parsed, and the JSON parsed is bounded
    // in depth (jwt.h); the per-process rate limit in Admit bounds calls.
    const identity::JwtBundle* bundles[] = {state->jwt_bundle.get()};
    absl::StatusOr<identity::JwtSvidClaims> claims = identity::ValidateJwtSvid(
        request->svid(), request->audience(), bundles, clock_);
    if (claims.ok()) {
      response->set_spiffe_id(claims->id.ToString());
      *response->mutable_claims() = std::move(claims->claims);
    } else {
      // SPIRE answers InvalidArgument for every token it will not accept.
      status = absl::InvalidArgumentError(claims.status().message());
    }
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

std::shared_ptr<const SigningState> WorkloadApiService::signing() const {
  absl::MutexLock lock(&mu_);
  return signing_;
}

std::shared_ptr<const JWTBundlesResponse> WorkloadApiService::JwtBundlesLocked()
    const {
  auto response = std::make_shared<JWTBundlesResponse>();
  (*response->mutable_bundles())[signing_->bundle.trust_domain().IdString()] =
      signing_->jwt_bundle_jwks;
  return response;
}

std::shared_ptr<const X509BundlesResponse>
WorkloadApiService::X509BundlesLocked() const {
  auto response = std::make_shared<X509BundlesResponse>();
  (*response->mutable_bundles())[signing_->bundle.trust_domain().IdString()] =
      signing_->bundle_der;
  return response;
}

void WorkloadApiService::SetSigningState(
    std::shared_ptr<const SigningState> state) {
  std::vector<std::shared_ptr<PushStream<X509BundlesResponse>>> streams;
  std::shared_ptr<const X509BundlesResponse> response;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    const bool changed = signing_ == nullptr || signing_->bundle_generation !=
                                                    state->bundle_generation;
    signing_ = std::move(state);
    if (!changed) return;
    Prune(x509_bundle_streams_);
    for (const auto& weak : x509_bundle_streams_) {
      if (auto s = weak.lock()) streams.push_back(std::move(s));
    }
    response = X509BundlesLocked();
    generation = signing_->bundle_generation;
  }
  for (const auto& stream : streams) stream->Push(response, generation);
}

bool WorkloadApiService::AllStreamsHave(uint64_t bundle_generation) const {
  if (!registry_.AllSubscribersHave(bundle_generation)) return false;
  absl::MutexLock lock(&mu_);
  for (const auto& weak : x509_bundle_streams_) {
    auto stream = weak.lock();
    if (stream != nullptr &&
        stream->DeliveredGeneration() < bundle_generation) {
      return false;
    }
  }
  return true;
}

void WorkloadApiService::EndAllStreams() {
  std::vector<std::shared_ptr<PushStream<X509BundlesResponse>>> bundles;
  std::vector<std::shared_ptr<X509SvidStream>> svids;
  std::vector<std::shared_ptr<PushStream<JWTBundlesResponse>>> jwt;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& weak : x509_bundle_streams_) {
      if (auto s = weak.lock()) bundles.push_back(std::move(s));
    }
    for (const auto& weak : jwt_bundle_streams_) {
      if (auto s = weak.lock()) jwt.push_back(std::move(s));
    }
    for (const auto& weak : x509_streams_) {
      if (auto s = weak.lock()) svids.push_back(std::move(s));
    }
  }
  const grpc::Status bye(grpc::StatusCode::UNAVAILABLE,
                         "the agent is shutting down");
  for (const auto& s : bundles) s->End(bye);
  for (const auto& s : svids) s->End(bye);
  for (const auto& s : jwt) s->End(bye);
}

}  // namespace mayfly::agent
