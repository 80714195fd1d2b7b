// An in-memory Registration service (server.proto) for tests of its
// clients: entries in a map, ids counted up, and hooks to make the next call
// fail or stall until its deadline. Served by a real gRPC server on a Unix
// socket, so the clients' real channel code runs. Thread-safe.
#ifndef MAYFLY_IDENTITY_ADMIN_TESTING_FAKE_REGISTRATION_H_
#define MAYFLY_IDENTITY_ADMIN_TESTING_FAKE_REGISTRATION_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "identity/server/proto/server.grpc.pb.h"

namespace mayfly::admin::testing {

class FakeRegistration final : public server::v1::Registration::Service {
 public:
  using Entry = server::v1::Entry;

  // The next call answers `status` instead of doing anything.
  void FailNext(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    FailCall(1, std::move(status));
  }
  // The nth call from now (1: the next) answers `status`.
  void FailCall(int nth, grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    fail_at_ = calls_ + nth;
    fail_status_ = std::move(status);
  }
  // Every call from now waits until its caller gives up.
  void StallCalls() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    stall_ = true;
  }
  int calls() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<Entry> entries() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<Entry> out;
    for (const auto& [id, e] : entries_) out.push_back(e);
    return out;
  }
  void AddAgent(server::v1::Agent agent) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    agents_.push_back(std::move(agent));
  }

  grpc::Status CreateEntry(grpc::ServerContext* context, const Entry* request,
                           Entry* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    for (const auto& [id, e] : entries_) {
      if (e.spiffe_id() == request->spiffe_id() &&
          e.parent_id() == request->parent_id() &&
          std::equal(e.selectors().begin(), e.selectors().end(),
                     request->selectors().begin(),
                     request->selectors().end())) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            absl::StrCat("entry ", id, " has them"));
      }
    }
    Entry e = *request;
    e.set_id(absl::StrFormat("%032x", ++next_id_));
    e.set_revision(++revision_);
    entries_[e.id()] = e;
    *response = e;
    return grpc::Status::OK;
  }
  grpc::Status UpdateEntry(grpc::ServerContext* context, const Entry* request,
                           Entry* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    auto it = entries_.find(request->id());
    if (it == entries_.end()) return NotFound(request->id());
    it->second = *request;
    it->second.set_revision(++revision_);
    *response = it->second;
    return grpc::Status::OK;
  }
  grpc::Status DeleteEntry(grpc::ServerContext* context,
                           const server::v1::EntryId* request,
                           server::v1::DeleteEntryResponse*) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    if (entries_.erase(request->id()) == 0) return NotFound(request->id());
    ++revision_;
    return grpc::Status::OK;
  }
  grpc::Status GetEntry(grpc::ServerContext* context,
                        const server::v1::EntryId* request,
                        Entry* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    auto it = entries_.find(request->id());
    if (it == entries_.end()) return NotFound(request->id());
    *response = it->second;
    return grpc::Status::OK;
  }
  grpc::Status ListEntries(grpc::ServerContext* context,
                           const server::v1::ListEntriesRequest* request,
                           server::v1::ListEntriesResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    for (const auto& [id, e] : entries_) {
      if ((request->parent_id().empty() ||
           e.parent_id() == request->parent_id()) &&
          (request->spiffe_id().empty() ||
           e.spiffe_id() == request->spiffe_id())) {
        *response->add_entries() = e;
      }
    }
    response->set_revision(revision_);
    return grpc::Status::OK;
  }
  grpc::Status CreateJoinToken(
      grpc::ServerContext* context,
      const server::v1::CreateJoinTokenRequest* request,
      server::v1::CreateJoinTokenResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    ++tokens_;
    response->set_token(absl::StrCat("token-", tokens_));
    response->set_agent_id(
        absl::StrCat("spiffe://example.org/mayfly/agent/join_token/", tokens_));
    // 2030-01-01T00:00:00Z plus the TTL asked for (600 s by default).
    response->set_expires_at_unix(
        1893456000 + (request->ttl_seconds() ? request->ttl_seconds() : 600));
    last_aliases_.assign(request->aliases().begin(), request->aliases().end());
    return grpc::Status::OK;
  }
  grpc::Status ListAgents(grpc::ServerContext* context,
                          const server::v1::ListAgentsRequest*,
                          server::v1::ListAgentsResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    for (const auto& a : agents_) *response->add_agents() = a;
    return grpc::Status::OK;
  }
  grpc::Status EvictAgent(grpc::ServerContext* context,
                          const server::v1::AgentId* request,
                          server::v1::Agent* response) override {
    absl::MutexLock lock(&mu_);
    if (auto s = Begin(context)) return *s;
    for (auto& a : agents_) {
      if (a.spiffe_id() == request->spiffe_id()) {
        a.set_evicted(true);
        *response = a;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no agent ", request->spiffe_id()));
  }

  std::vector<std::string> last_aliases() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return last_aliases_;
  }

 private:
  // Longer than any deadline a test sets.
  static constexpr absl::Duration kMaxStall = absl::Seconds(5);

  static grpc::Status NotFound(const std::string& id) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no entry ", id));
  }
  // Counts the call; its status if it must fail now.
  std::optional<grpc::Status> Begin(grpc::ServerContext* context)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++calls_;
    if (stall_) {
      // Until the client's deadline passes: polled, since gRPC offers no
      // wait on cancellation in the sync API. A client without a deadline
      // gets an answer it does not expect after kMaxStall instead of
      // hanging the test.
      const absl::Time give_up = absl::Now() + kMaxStall;
      while (!context->IsCancelled() && absl::Now() < give_up) {
        mu_.Unlock();
        absl::SleepFor(absl::Milliseconds(5));
        mu_.Lock();
      }
      return grpc::Status(grpc::StatusCode::ABORTED,
                          "stalled: the client set no deadline");
    }
    if (calls_ == fail_at_) return fail_status_;
    return std::nullopt;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<server::v1::Agent> agents_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> last_aliases_ ABSL_GUARDED_BY(mu_);
  int fail_at_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none
  grpc::Status fail_status_ ABSL_GUARDED_BY(mu_);
  bool stall_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int tokens_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
};

// The fake served on `socket_path` (a Unix socket) until destroyed.
class FakeRegistrationServer {
 public:
  explicit FakeRegistrationServer(const std::string& socket_path)
      : address_("unix://" + socket_path) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeRegistrationServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }
  bool ok() const { return server_ != nullptr; }
  // "unix:///PATH", as --server takes it.
  const std::string& address() const { return address_; }
  FakeRegistration& service() { return service_; }

 private:
  const std::string address_;
  FakeRegistration service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace mayfly::admin::testing

#endif  // MAYFLY_IDENTITY_ADMIN_TESTING_FAKE_REGISTRATION_H_
