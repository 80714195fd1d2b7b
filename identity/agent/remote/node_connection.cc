// The agent's calls to mayfly-server, with failover: see node_connection.h.
#include "identity/agent/remote/node_connection.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mayfly::agent::remote {
namespace {

bool ShouldFailOver(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

NodeConnection::NodeConnection(std::vector<std::string> addresses,
                               std::shared_ptr<const ServerTrustSource> trust,
                               const identity::Clock& clock)
    : addresses_(std::move(addresses)),
      trust_(std::move(trust)),
      clock_(clock),
      tls_stubs_(addresses_.size()),
      mtls_stubs_(addresses_.size()) {}

void NodeConnection::SetAgentSvid(const std::string& chain_pem,
                                  const std::string& key_pem) {
  absl::MutexLock lock(&mu_);
  chain_pem_ = chain_pem;
  key_pem_ = key_pem;
  for (auto& stub : mtls_stubs_) stub = nullptr;
}

std::string NodeConnection::CurrentAddress() const {
  absl::MutexLock lock(&mu_);
  return addresses_[current_];
}

std::shared_ptr<pb::Node::Stub> NodeConnection::StubLocked(size_t index,
                                                           bool mtls) {
  auto& stub = mtls ? mtls_stubs_[index] : tls_stubs_[index];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    // Reconnect quickly to a replica that comes back; the agent's own
    // backoff paces whole retries.
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    auto creds = ServerChannelCredentials(trust_, clock_,
                                          mtls ? chain_pem_ : std::string(),
                                          mtls ? key_pem_ : std::string());
    stub = pb::Node::NewStub(
        grpc::CreateCustomChannel(addresses_[index], creds, args));
  }
  return stub;
}

absl::Status NodeConnection::WithFailover(
    bool mtls, const std::function<grpc::Status(pb::Node::Stub&)>& call) {
  size_t start;
  {
    absl::MutexLock lock(&mu_);
    if (mtls && chain_pem_.empty()) {
      return absl::FailedPreconditionError("the agent has no agent SVID yet");
    }
    start = current_;
  }
  grpc::Status last;
  for (size_t n = 0; n < addresses_.size(); ++n) {
    const size_t index = (start + n) % addresses_.size();
    std::shared_ptr<pb::Node::Stub> stub;
    {
      absl::MutexLock lock(&mu_);
      stub = StubLocked(index, mtls);
    }
    last = call(*stub);
    if (!ShouldFailOver(last.error_code())) {
      absl::MutexLock lock(&mu_);
      current_ = index;
      return FromGrpc(last);
    }
  }
  return absl::Status(
      static_cast<absl::StatusCode>(last.error_code()),
      absl::StrCat("no mayfly-server replica answered (", addresses_.size(),
                   " tried); last: ", last.error_message()));
}

absl::StatusOr<pb::AgentSvid> NodeConnection::Attest(
    const pb::AttestRequest& first,
    const std::function<absl::StatusOr<std::string>(const std::string&)>&
        answer) {
  pb::AgentSvid svid;
  absl::Status status = WithFailover(false, [&](pb::Node::Stub& stub) {
    grpc::ClientContext context;
    SetDeadline(context, kCallDeadline);
    auto stream = stub.Attest(&context);
    if (!stream->Write(first)) return stream->Finish();
    pb::AttestResponse response;
    while (stream->Read(&response)) {
      if (response.has_svid()) {
        svid = response.svid();
        stream->WritesDone();
        return stream->Finish();
      }
      absl::StatusOr<std::string> signature =
          answer(response.challenge().nonce());
      if (!signature.ok()) {
        context.TryCancel();
        stream->Finish().IgnoreError();
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            std::string(signature.status().message()));
      }
      pb::AttestRequest reply;
      reply.set_challenge_response(*signature);
      if (!stream->Write(reply)) break;
    }
    return stream->Finish();
  });
  if (!status.ok()) return status;
  if (svid.chain().empty()) {
    return absl::InternalError("mayfly-server ended Attest without an SVID");
  }
  return svid;
}

absl::StatusOr<pb::AgentSvid> NodeConnection::RenewAgent(
    const pb::RenewAgentRequest& request) {
  pb::AgentSvid svid;
  absl::Status status = WithFailover(true, [&](pb::Node::Stub& stub) {
    grpc::ClientContext context;
    SetDeadline(context, kCallDeadline);
    return stub.RenewAgent(&context, request, &svid);
  });
  if (!status.ok()) return status;
  return svid;
}

absl::StatusOr<pb::SignX509Response> NodeConnection::SignX509(
    const pb::SignX509Request& request) {
  pb::SignX509Response response;
  absl::Status status = WithFailover(true, [&](pb::Node::Stub& stub) {
    grpc::ClientContext context;
    SetDeadline(context, kCallDeadline);
    return stub.SignX509(&context, request, &response);
  });
  if (!status.ok()) return status;
  if (response.results_size() != request.csrs_size()) {
    return absl::InternalError(absl::StrCat("mayfly-server answered ",
                                            response.results_size(), " of ",
                                            request.csrs_size(), " CSRs"));
  }
  return response;
}

absl::StatusOr<pb::SignJwtResponse> NodeConnection::SignJwt(
    const pb::SignJwtRequest& request) {
  pb::SignJwtResponse response;
  absl::Status status = WithFailover(true, [&](pb::Node::Stub& stub) {
    grpc::ClientContext context;
    SetDeadline(context, kJwtCallDeadline);
    return stub.SignJwt(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::Status NodeConnection::Sync(
    const pb::SyncRequest& request,
    const std::function<void(const pb::SyncResponse&)>& on_response) {
  bool received = false;
  return WithFailover(true, [&](pb::Node::Stub& stub) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return grpc::Status(grpc::StatusCode::CANCELLED, "");
      sync_context_ = &context;
    }
    auto reader = stub.Sync(&context, request);
    pb::SyncResponse response;
    while (reader->Read(&response)) {
      received = true;
      on_response(response);
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      sync_context_ = nullptr;
    }
    // A stream that ran and broke is returned, so the caller reconnects
    // (and fails over then, should this replica be gone).
    if (received && ShouldFailOver(status.error_code())) {
      return grpc::Status(grpc::StatusCode::ABORTED, status.error_message());
    }
    return status;
  });
}

void NodeConnection::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (sync_context_ != nullptr) sync_context_->TryCancel();
}

}  // namespace mayfly::agent::remote
