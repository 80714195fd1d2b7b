// FleetAdmin: see fleet_admin.h.
#include "tests/bench/fleet/fleet_admin.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mayfly::bench {
namespace {

namespace pb = ::mayfly::server::v1;

constexpr int kAttempts = 3;
constexpr auto kAdminDeadline = std::chrono::seconds(60);
constexpr int64_t kTokenTtlSeconds = 3600;

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kAdminDeadline);
}

bool Retriable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::ABORTED ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Runs body(i) for i in [0, n) on `threads` threads.
void ParallelFor(int64_t n, int threads,
                 const std::function<void(int64_t)>& body) {
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int64_t i; (i = next++) < n;) body(i);
    });
  }
  for (std::thread& t : pool) t.join();
}

}  // namespace

FleetAdmin::FleetAdmin(const std::vector<std::string>& admin_sockets) {
  for (const std::string& socket : admin_sockets) {
    stubs_.push_back(pb::Registration::NewStub(grpc::CreateChannel(
        absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials())));
  }
}

absl::StatusOr<std::vector<FleetAdmin::Token>> FleetAdmin::MakeTokens(
    int n, int threads) {
  std::vector<Token> tokens(n);
  std::atomic<int64_t> failed{0};
  std::string first_error;
  std::mutex error_mu;
  ParallelFor(n, threads, [&](int64_t i) {
    pb::CreateJoinTokenRequest request;
    request.set_ttl_seconds(kTokenTtlSeconds);
    grpc::Status s;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      grpc::ClientContext context;
      SetDeadline(context);
      pb::CreateJoinTokenResponse response;
      s = stubs_[i % stubs_.size()]->CreateJoinToken(&context, request,
                                                     &response);
      if (s.ok()) {
        tokens[i] = {response.token(), response.agent_id()};
        return;
      }
      if (!Retriable(s)) break;
    }
    ++failed;
    std::lock_guard<std::mutex> lock(error_mu);
    first_error = s.error_message();
  });
  if (failed > 0) {
    return absl::UnavailableError(absl::StrCat(
        failed.load(), " join tokens could not be made: ", first_error));
  }
  return tokens;
}

absl::StatusOr<pb::Entry> FleetAdmin::CreateEntry(size_t replica,
                                                  const pb::Entry& entry) {
  grpc::ClientContext context;
  SetDeadline(context);
  pb::Entry out;
  const grpc::Status s =
      stubs_[replica % stubs_.size()]->CreateEntry(&context, entry, &out);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return out;
}

int64_t FleetAdmin::CreateEntries(const std::vector<pb::Entry>& entries,
                                  int threads) {
  std::atomic<int64_t> done{0}, failed{0};
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    const absl::Time start = absl::Now();
    absl::Time next = start + absl::Seconds(5);
    while (!finished) {
      absl::SleepFor(absl::Milliseconds(100));
      if (absl::Now() < next) continue;
      next += absl::Seconds(5);
      std::fprintf(stderr,
                   "fleet-bench: entries %lld/%zu (%lld failed), %.0f s\n",
                   static_cast<long long>(done.load()), entries.size(),
                   static_cast<long long>(failed.load()),
                   absl::ToDoubleSeconds(absl::Now() - start));
    }
  });
  ParallelFor(static_cast<int64_t>(entries.size()), threads, [&](int64_t i) {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      absl::StatusOr<pb::Entry> created = CreateEntry(i, entries[i]);
      if (created.ok()) {
        ++done;
        return;
      }
      const grpc::Status as_grpc(
          static_cast<grpc::StatusCode>(created.status().code()), "");
      if (!Retriable(as_grpc)) break;
    }
    ++failed;
  });
  finished = true;
  progress.join();
  return failed;
}

}  // namespace mayfly::bench
