// The scripted Workload API server: see fake_agent.h.
#include "identity/workload/fake_agent.h"

#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/keys.h"
#include "identity/pem.h"

namespace mayfly::identity::workload {
namespace {

// How often a waiting stream checks whether its client went away: gRPC's
// sync API offers no wake-up on cancellation, and a test should not wait
// long for a stream to notice it.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(20);
// A short fixed directory name keeps the socket path far below the 108
// bytes of sun_path, which $TEST_TMPDIR may not.
constexpr char kDirTemplate[] = "/tmp/mayfly-fake-agent-XXXXXX";

}  // namespace

absl::StatusOr<X509SVIDResponse> X509ResponseFor(const X509Svid& svid,
                                                 const X509Bundle& bundle) {
  absl::StatusOr<std::string> key = PrivateKeyToPkcs8Der(*svid.key);
  if (!key.ok()) return key.status();
  X509SVIDResponse response;
  X509SVID* out = response.add_svids();
  out->set_spiffe_id(svid.id.ToString());
  out->set_x509_svid(CertsToDer(svid.chain));
  out->set_x509_svid_key(*key);
  out->set_bundle(bundle.ToDer());
  return response;
}

absl::StatusOr<std::unique_ptr<FakeAgent>> FakeAgent::Start() {
  std::unique_ptr<FakeAgent> agent(new FakeAgent());
  char dir[sizeof(kDirTemplate)];
  std::copy(std::begin(kDirTemplate), std::end(kDirTemplate), dir);
  if (mkdtemp(dir) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", kDirTemplate));
  }
  agent->dir_ = dir;
  agent->endpoint_ = absl::StrCat("unix:", agent->dir_, "/agent.sock");
  grpc::ServerBuilder builder;
  builder.AddListeningPort(agent->endpoint_, grpc::InsecureServerCredentials());
  builder.RegisterService(agent.get());
  agent->server_ = builder.BuildAndStart();
  if (agent->server_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("fake agent: cannot listen on ", agent->endpoint_));
  }
  return agent;
}

FakeAgent::~FakeAgent() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  if (server_ != nullptr) server_->Shutdown();
  unlink(absl::StrCat(dir_, "/agent.sock").c_str());
  rmdir(dir_.c_str());
}

void FakeAgent::NextStream() {
  absl::MutexLock lock(&mu_);
  scripts_.push_back(std::make_shared<Script>());
}

void FakeAgent::Send(X509SVIDResponse response) {
  absl::MutexLock lock(&mu_);
  scripts_.back()->push_back(Step{std::move(response), grpc::Status::OK});
}

void FakeAgent::End(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  scripts_.back()->push_back(Step{std::nullopt, std::move(status)});
}

int FakeAgent::streams() const {
  absl::MutexLock lock(&mu_);
  return streams_;
}

int FakeAgent::pending() const {
  absl::MutexLock lock(&mu_);
  int steps = 0;
  for (const auto& script : scripts_) steps += static_cast<int>(script->size());
  return steps;
}

grpc::Status FakeAgent::FetchX509SVID(
    grpc::ServerContext* context, const X509SVIDRequest* /*request*/,
    grpc::ServerWriter<X509SVIDResponse>* writer) {
  std::shared_ptr<Script> script;
  // Waits, under mu_, until `ready` holds; false if the client left or the
  // agent is shutting down first.
  auto wait =
      [&](const std::function<bool()>& ready)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            auto done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
              return shutting_down_ || ready();
            };
            while (!mu_.AwaitWithTimeout(absl::Condition(&done), kCancelPoll)) {
              if (context->IsCancelled()) return false;
            }
            return !shutting_down_ && !context->IsCancelled();
          };
  {
    absl::MutexLock lock(&mu_);
    if (!wait([&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return streams_ < static_cast<int>(scripts_.size());
        })) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "stream over");
    }
    script = scripts_[streams_++];
  }
  while (true) {
    Step step;
    {
      absl::MutexLock lock(&mu_);
      if (!wait([&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
            return !script->empty();
          })) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "stream over");
      }
      step = std::move(script->front());
      script->pop_front();
    }
    if (!step.send.has_value()) return step.status;
    if (!writer->Write(*step.send)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
    }
  }
}

}  // namespace mayfly::identity::workload
