// A self-refreshing X.509 context: see x509_source.h.
#include "identity/workload/x509_source.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::identity::workload {

// ±20% keeps a fleet of clients that lost the same agent from reconnecting
// in lockstep.
constexpr double kBackoffJitter = 0.2;

absl::StatusOr<std::unique_ptr<X509Source>> X509Source::Start(
    absl::string_view endpoint_flag, Options options) {
  ASSIGN_OR_RETURN(auto client, WorkloadClient::Create(endpoint_flag));
  std::unique_ptr<X509Source> source(
      new X509Source(std::move(client), std::move(options)));
  source->thread_ = std::thread([s = source.get()] { s->Run(); });
  return source;
}

X509Source::~X509Source() { Close(); }

std::shared_ptr<const X509Context> X509Source::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int64_t X509Source::updates() const {
  absl::MutexLock lock(&mu_);
  return updates_;
}

absl::StatusOr<std::shared_ptr<const X509Context>> X509Source::WaitForFirst(
    absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return current_ != nullptr || stopped_ || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (current_ != nullptr) return current_;
  if (stopped_) return last_error_;
  return absl::DeadlineExceededError(absl::StrCat(
      "no X.509-SVID from the Workload API within ",
      absl::FormatDuration(timeout),
      last_error_.ok()
          ? ""
          : absl::StrCat(" (last error: ", last_error_.ToString(), ")")));
}

void X509Source::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void X509Source::Run() {
  absl::BitGen rng;
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    auto context = WorkloadClient::NewContext(absl::InfiniteDuration());
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return;
      active_ = context.get();
    }
    auto reader =
        client_->stub().FetchX509SVID(context.get(), X509SVIDRequest());
    X509SVIDResponse response;
    absl::Status failure;
    while (reader->Read(&response)) {
      absl::StatusOr<X509Context> parsed = ParseX509Response(response);
      if (!parsed.ok()) {
        failure = parsed.status();
        break;
      }
      auto shared = std::make_shared<const X509Context>(*std::move(parsed));
      {
        absl::MutexLock lock(&mu_);
        current_ = shared;
        ++updates_;
        last_error_ = absl::OkStatus();
      }
      backoff = options_.min_backoff;
      if (options_.on_update) options_.on_update(shared);
    }
    if (failure.ok()) {
      context->TryCancel();
      failure = FromGrpcStatus(reader->Finish());
      if (failure.ok()) failure = absl::UnavailableError("stream ended");
    } else {
      context->TryCancel();
      reader->Finish();
    }
    {
      absl::MutexLock lock(&mu_);
      active_ = nullptr;
      if (closed_) return;
      last_error_ = failure;
      if (failure.code() == absl::StatusCode::kInvalidArgument) {
        stopped_ = true;
      }
    }
    if (options_.on_error) options_.on_error(failure);
    if (failure.code() == absl::StatusCode::kInvalidArgument) return;
    const absl::Duration wait =
        backoff * absl::Uniform(rng, 1 - kBackoffJitter, 1 + kBackoffJitter);
    backoff = std::min(backoff * 2, options_.max_backoff);
    absl::MutexLock lock(&mu_);
    auto closed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&closed), wait)) return;
  }
}

}  // namespace mayfly::identity::workload
