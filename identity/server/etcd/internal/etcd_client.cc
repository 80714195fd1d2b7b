// The member channels and the fail-over loop of EtcdKvStore.
#include "identity/server/etcd/internal/etcd_client.h"

#include <chrono>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::server::etcd_internal {
namespace {

// Pings on a quiet connection so that a watch on a member that vanished
// (host down, no RST) breaks within seconds, not at the kernel's TCP
// timeout. etcd refuses pings more often than --grpc-keepalive-min-time
// (default 5 s) as abuse, so 10 s it is.
constexpr int kKeepaliveTimeMs = 10'000;
constexpr int kKeepaliveTimeoutMs = 5'000;
// gRPC backs off up to 120 s between reconnects by default; a restarted
// member should be used again within seconds.
constexpr int kMaxReconnectBackoffMs = 2'000;
// Longer keys are cut in error messages.
constexpr size_t kQuotedKeyBytes = 64;

absl::Status CheckEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port < 1 ||
      port > 65535 ||
      !absl::ascii_isdigit(static_cast<unsigned char>(endpoint.back()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint \"", endpoint,
                     "\": want host:port, e.g. 10.0.0.1:2379"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const TlsFiles& tls) {
  if (tls.ca_file.empty() && tls.cert_file.empty() && tls.key_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd TLS: a client certificate needs both cert_file and key_file "
        "(cert_file \"",
        tls.cert_file, "\", key_file \"", tls.key_file, "\")"));
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, identity::ReadFile(tls.ca_file));
  }
  if (!tls.cert_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_cert_chain, identity::ReadFile(tls.cert_file));
    ASSIGN_OR_RETURN(ssl.pem_private_key, identity::ReadFile(tls.key_file));
  }
  return grpc::SslCredentials(ssl);
}

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  // gRPC takes deadlines on the system clock and turns them into its own
  // monotonic time at once, so a clock step later does not move them.
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             absl::ToChronoNanoseconds(timeout));
}

bool IsTransient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(
    const std::vector<std::string>& endpoints, const TlsFiles& tls,
    absl::Duration call_timeout) {
  if (endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoints");
  }
  if (call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd: call_timeout must be positive, not ",
                     absl::FormatDuration(call_timeout)));
  }
  for (const std::string& endpoint : endpoints) {
    RETURN_IF_ERROR(CheckEndpoint(endpoint));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   Credentials(tls));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  // A Range is bounded by its caller's limit, not by gRPC's 4 MiB default.
  args.SetMaxReceiveMessageSize(-1);
  std::vector<Member> members;
  for (const std::string& endpoint : endpoints) {
    Member member;
    member.endpoint = endpoint;
    member.channel = grpc::CreateCustomChannel(endpoint, credentials, args);
    member.kv = etcdserverpb::KV::NewStub(member.channel);
    member.watch = etcdserverpb::Watch::NewStub(member.channel);
    members.push_back(std::move(member));
  }
  const bool use_tls = !(tls.ca_file.empty() && tls.cert_file.empty());
  return std::unique_ptr<Client>(
      new Client(std::move(members), use_tls, call_timeout));
}

Client::Client(std::vector<Member> members, bool tls,
               absl::Duration call_timeout)
    : members_(std::move(members)), tls_(tls), call_timeout_(call_timeout) {}

void Client::PrepareStream(grpc::ClientContext& context) {
  context.AddMetadata(kHasLeaderKey, kHasLeaderValue);
}

bool Client::Connected(Member& member) {
  const auto deadline = DeadlineAfter(call_timeout_);
  grpc_connectivity_state state =
      member.channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    // TRANSIENT_FAILURE: the last connection attempt failed and gRPC is
    // backing off; a call now would fail without being sent.
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE ||
        state == GRPC_CHANNEL_SHUTDOWN ||
        !member.channel->WaitForStateChange(state, deadline)) {
      return false;
    }
    state = member.channel->GetState(/*try_to_connect=*/true);
  }
  return true;
}

absl::Status Client::Call(
    absl::string_view what, Retry retry,
    const std::function<grpc::Status(Member&, grpc::ClientContext&)>& call) {
  std::vector<std::string> errors;
  const size_t start = preferred();
  for (size_t i = 0; i < members_.size(); ++i) {
    Member& m = member(start + i);
    const std::string prefix = absl::StrCat("etcd ", m.endpoint, ": ", what);
    if (retry == Retry::kIfNotApplied && !Connected(m)) {
      errors.push_back(absl::StrCat(prefix, ": not connected (not sent)"));
      continue;
    }
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(call_timeout_));
    context.AddMetadata(kHasLeaderKey, kHasLeaderValue);
    const grpc::Status status = call(m, context);
    if (status.ok()) {
      Prefer(start + i);
      return absl::OkStatus();
    }
    const bool next =
        retry == Retry::kIdempotent
            ? IsTransient(status.error_code())
            : status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                  status.error_message() == kNoLeaderMessage;
    if (!next) {
      if (retry == Retry::kIfNotApplied &&
          (IsTransient(status.error_code()) ||
           status.error_code() == grpc::StatusCode::UNKNOWN)) {
        return absl::UnavailableError(
            absl::StrCat(prefix, ": outcome unknown (", status.error_message(),
                         "); read the keys again before retrying"));
      }
      return FromGrpc(status, prefix);
    }
    errors.push_back(std::string(FromGrpc(status, prefix).message()));
  }
  return absl::UnavailableError(absl::StrCat(
      "etcd: ", what, ": no member answered: ", absl::StrJoin(errors, "; ")));
}

std::string Client::Describe() const {
  std::vector<std::string> urls;
  for (const Member& m : members_) {
    urls.push_back(absl::StrCat(tls_ ? "https://" : "http://", m.endpoint));
  }
  return absl::StrCat("etcd ", absl::StrJoin(urls, ","));
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view prefix) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(prefix, ": ", status.error_message()));
}

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    const unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string QuoteKey(absl::string_view key) {
  if (key.size() <= kQuotedKeyBytes) {
    return absl::StrCat("\"", absl::CHexEscape(key), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(key.substr(0, kQuotedKeyBytes)),
                      "...\" (", key.size(), " bytes)");
}

}  // namespace mayfly::server::etcd_internal
