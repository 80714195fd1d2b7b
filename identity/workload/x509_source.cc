// A self-refreshing X.509 context from the Workload API: see x509_source.h.
#include "identity/workload/x509_source.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "identity/workload/svid_expiry.h"
#include "identity/x509_svid.h"

namespace mayfly::identity::workload {
namespace {

// ±20% keeps a fleet of clients that lost the same agent from reconnecting
// in lockstep.
constexpr double kBackoffJitter = 0.2;

// The SVID of `context` named `spiffe_id` (the first when empty) as an
// X509Svid, sharing its certificates and key; NotFound listing the IDs on
// offer when there is none.
absl::StatusOr<std::shared_ptr<const X509Svid>> PickSvid(
    const X509Context& context, const std::string& spiffe_id) {
  const X509SvidEntry* picked = nullptr;
  std::string offered;
  for (const X509SvidEntry& entry : context.svids) {
    if (spiffe_id.empty() || entry.id.ToString() == spiffe_id) {
      picked = &entry;
      break;
    }
    absl::StrAppend(&offered, offered.empty() ? "" : ", ", entry.id.ToString());
  }
  if (picked == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("the Workload API's current update has no X.509-SVID for ",
                     spiffe_id, "; it offers ", offered));
  }
  const X509SvidEntry& entry = *picked;
  return std::make_shared<const X509Svid>(
      X509Svid{entry.id, ShareChain(entry.chain), ShareKey(entry.key.get()),
               CertNotBefore(*entry.chain[0]), CertNotAfter(*entry.chain[0])});
}

}  // namespace

absl::StatusOr<std::unique_ptr<X509Source>> X509Source::Start(
    absl::string_view endpoint_flag, Options options) {
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("X509Source::Options.clock is null");
  }
  ASSIGN_OR_RETURN(auto client,
                   WorkloadClient::Create(endpoint_flag, *options.clock));
  std::unique_ptr<X509Source> source(
      new X509Source(std::move(client), std::move(options)));
  source->thread_ = std::thread([s = source.get()] { s->Run(); });
  return source;
}

X509Source::~X509Source() { Close(); }

absl::StatusOr<std::shared_ptr<const X509Svid>> X509Source::GetX509Svid()
    const {
  std::shared_ptr<const X509Svid> svid;
  std::string why;
  {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr && picked_svid_ == nullptr) {
      return absl::UnavailableError(missing_svid_);
    }
    svid = picked_svid_;
    if (!last_error_.ok()) why = last_error_.ToString();
  }
  return ServeUnexpired(std::move(svid), options_.clock->Now(), why);
}

absl::StatusOr<X509Bundle> X509Source::GetX509BundleForTrustDomain(
    const TrustDomain& trust_domain) const {
  absl::MutexLock lock(&mu_);
  if (current_ == nullptr) {
    return absl::UnavailableError(
        "no X.509 bundle received from the Workload API yet");
  }
  auto it = current_->bundles.find(trust_domain);
  if (it == current_->bundles.end()) {
    return absl::NotFoundError(
        absl::StrCat("the Workload API sent no X.509 bundle for trust domain ",
                     trust_domain.name()));
  }
  return it->second;
}

X509SvidSource::Subscription X509Source::Watch(
    std::function<void()> on_change) {
  return watchers_->Add(std::move(on_change));
}

std::shared_ptr<const X509Context> X509Source::Current() const {
  absl::MutexLock lock(&mu_);
  if (current_ != nullptr && options_.clock->Now() > current_->Expiry()) {
    return nullptr;
  }
  return current_;
}

int64_t X509Source::updates() const {
  absl::MutexLock lock(&mu_);
  return updates_;
}

bool X509Source::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
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

void X509Source::Publish(X509Context context) {
  auto shared = std::make_shared<const X509Context>(std::move(context));
  {
    absl::MutexLock lock(&mu_);
    current_ = shared;
    absl::StatusOr<std::shared_ptr<const X509Svid>> picked =
        PickSvid(*shared, options_.spiffe_id);
    picked_svid_ = picked.ok() ? *std::move(picked) : nullptr;
    missing_svid_ = picked.ok() ? "" : std::string(picked.status().message());
    ++updates_;
    last_error_ = absl::OkStatus();
  }
  // Both after the lock is released: a callback may read the source.
  if (options_.on_update) options_.on_update(shared);
  watchers_->Notify();
}

X509Source::StreamEnd X509Source::ReadStream(absl::Duration& backoff) {
  auto context = client_->NewContext(absl::InfiniteDuration());
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return {absl::CancelledError("closed"), false};
    active_ = context.get();
  }
  auto reader = client_->stub().FetchX509SVID(context.get(), X509SVIDRequest());
  X509SVIDResponse response;
  StreamEnd end;
  while (reader->Read(&response)) {
    absl::StatusOr<X509Context> parsed = ParseX509Response(response);
    if (!parsed.ok()) {
      // Our verdict on the agent's message, not the agent's on our request.
      end.status = absl::Status(
          parsed.status().code(),
          absl::StrCat("unusable X509SVIDResponse from the Workload API: ",
                       parsed.status().message()));
      break;
    }
    backoff = options_.min_backoff;
    Publish(*std::move(parsed));
  }
  // Cancel only a stream we walk away from: cancelling one the agent ended
  // would replace the agent's status with our own CANCELLED.
  if (!end.status.ok()) context->TryCancel();
  absl::Status finish = FromGrpcStatus(reader->Finish());
  if (end.status.ok()) {
    end.status = finish.ok() ? absl::UnavailableError("stream ended") : finish;
    end.agent_verdict = !finish.ok();
  }
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
  return end;
}

void X509Source::Run() {
  absl::BitGen rng;
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    const StreamEnd end = ReadStream(backoff);
    const bool final = end.agent_verdict &&
                       end.status.code() == absl::StatusCode::kInvalidArgument;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return;
      last_error_ = end.status;
      stopped_ = final;
    }
    if (options_.on_error) options_.on_error(end.status);
    if (final) return;
    const absl::Duration wait =
        backoff * absl::Uniform(rng, 1 - kBackoffJitter, 1 + kBackoffJitter);
    backoff = std::min(backoff * 2, options_.max_backoff);
    absl::MutexLock lock(&mu_);
    auto closed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&closed), wait)) return;
  }
}

}  // namespace mayfly::identity::workload
