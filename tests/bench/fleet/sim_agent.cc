// SimAgent: see sim_agent.h.
#include "tests/bench/fleet/sim_agent.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "identity/csr.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/spiffe_id.h"
#include "identity/status_macros.h"

namespace mayfly::bench {
namespace {

// A cold start of a thousand agents queues a lot of signing on two cores.
constexpr absl::Duration kCallDeadline = absl::Seconds(120);
// Retry of an entry the server refused or a call that failed.
constexpr absl::Duration kRetryAfter = absl::Seconds(5);
// As the server allows (node_service.h).
constexpr int kMaxCsrsPerBatch = 256;
constexpr int kMaxMessageBytes = 8 << 20;

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

std::shared_ptr<grpc::Channel> NewChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  // A connection of its own, as each real agent (a process of its own) has.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  return grpc::CreateCustomChannel(address, creds, args);
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoSeconds(kCallDeadline));
}

absl::StatusOr<std::string> ChainPem(
    const google::protobuf::RepeatedPtrField<std::string>& chain) {
  std::string der;
  for (const std::string& cert : chain) der += cert;
  ASSIGN_OR_RETURN(identity::CertChain certs, identity::CertsFromDer(der));
  return identity::CertsToPem(certs);
}

}  // namespace

SimAgent::SimAgent(SimAgentOptions options, FleetCounters& counters,
                   const identity::Clock& clock)
    : options_(std::move(options)), counters_(counters), clock_(clock) {
  jitter_state_ =
      static_cast<uint32_t>(std::hash<std::string>()(options_.token)) | 1u;
}

absl::Status SimAgent::Attest() {
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::GenerateKey(identity::kDefaultKeyType));
  ASSIGN_OR_RETURN(
      identity::SpiffeId placeholder,
      identity::SpiffeId::FromString(absl::StrCat(
          "spiffe://", options_.trust->Current()->trust_domain.name(),
          "/mayfly/agent")));
  pb::AttestRequest first;
  ASSIGN_OR_RETURN(*first.mutable_csr(),
                   identity::MakeSvidCsrDer(*key, placeholder, {}));
  first.mutable_join_token()->set_token(options_.token);
  auto channel = NewChannel(
      options_.address,
      agent::remote::ServerChannelCredentials(options_.trust, clock_, "", ""));
  pb::Node::Stub stub(channel);
  grpc::ClientContext context;
  SetDeadline(context);
  auto stream = stub.Attest(&context);
  pb::AttestResponse response;
  const bool wrote = stream->Write(first) && stream->WritesDone();
  const bool read = wrote && stream->Read(&response);
  const grpc::Status finished = stream->Finish();
  if (!finished.ok()) return FromGrpc(finished);
  if (!read || !response.has_svid()) {
    return absl::InternalError("Attest ended without an SVID");
  }
  ASSIGN_OR_RETURN(std::string key_pem, identity::PrivateKeyToPkcs8Pem(*key));
  RETURN_IF_ERROR(AdoptSvid(response.svid(), key_pem));
  ++counters_.attested;
  return absl::OkStatus();
}

absl::Status SimAgent::AdoptSvid(const pb::AgentSvid& svid,
                                 const std::string& key_pem) {
  ASSIGN_OR_RETURN(std::string chain_pem, ChainPem(svid.chain()));
  auto channel = NewChannel(options_.address,
                            agent::remote::ServerChannelCredentials(
                                options_.trust, clock_, chain_pem, key_pem));
  absl::MutexLock lock(&mu_);
  agent_id_ = svid.spiffe_id();
  channel_ = channel;
  stub_ = std::make_shared<pb::Node::Stub>(channel);
  agent_renew_at_ = RenewAt(absl::FromUnixSeconds(svid.not_after_unix()));
  return absl::OkStatus();
}

std::shared_ptr<pb::Node::Stub> SimAgent::Stub() const {
  absl::MutexLock lock(&mu_);
  return stub_;
}

absl::Time SimAgent::RenewAt(absl::Time not_after) {
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 17;
  jitter_state_ ^= jitter_state_ << 5;
  const double jitter =
      options_.renew_jitter * (jitter_state_ % 10000) / 10000.0;
  const absl::Time now = clock_.Now();
  return now + (not_after - now) * (options_.renew_fraction + jitter);
}

absl::Status SimAgent::RunSync() {
  std::shared_ptr<pb::Node::Stub> stub = Stub();
  if (stub == nullptr) return absl::FailedPreconditionError("not attested");
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::CancelledError("stopped");
    sync_context_ = &context;
  }
  auto reader = stub->Sync(&context, pb::SyncRequest());
  pb::SyncResponse response;
  while (reader->Read(&response)) {
    const absl::Time now = clock_.Now();
    ++counters_.sync_messages;
    counters_.sync_bytes += static_cast<int64_t>(response.ByteSizeLong());
    std::vector<std::string> arrived;
    {
      absl::MutexLock lock(&mu_);
      std::set<std::string> present;
      for (const pb::Entry& e : response.entries()) {
        present.insert(e.id());
        if (entries_.count(e.id()) != 0) continue;
        entries_[e.id()].spiffe_id = e.spiffe_id();
        arrived.push_back(e.spiffe_id());
      }
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (present.count(it->first) != 0) {
          ++it;
          continue;
        }
        if (it->second.ever_signed) --signed_entries_;
        it = entries_.erase(it);
      }
    }
    for (const std::string& id : arrived) {
      if (options_.on_new_entry) options_.on_new_entry(id, now);
    }
    if (!arrived.empty() && options_.wake) options_.wake();
  }
  const grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  sync_context_ = nullptr;
  return FromGrpc(status);
}

void SimAgent::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  if (sync_context_ != nullptr) sync_context_->TryCancel();
}

absl::Time SimAgent::NextDue() const {
  absl::MutexLock lock(&mu_);
  absl::Time due = agent_renew_at_;
  for (const auto& [id, e] : entries_) due = std::min(due, e.renew_at);
  return due;
}

absl::Status SimAgent::Work() {
  bool renew_agent;
  {
    absl::MutexLock lock(&mu_);
    renew_agent = stub_ != nullptr && agent_renew_at_ <= clock_.Now();
  }
  absl::Status s = absl::OkStatus();
  if (renew_agent) s = RenewAgent();
  absl::Status signed_status = SignDue();
  return s.ok() ? signed_status : s;
}

absl::Status SimAgent::RenewAgent() {
  std::string agent_id;
  {
    absl::MutexLock lock(&mu_);
    agent_id = agent_id_;
  }
  ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                   identity::GenerateKey(identity::kDefaultKeyType));
  ASSIGN_OR_RETURN(identity::SpiffeId id,
                   identity::SpiffeId::FromString(agent_id));
  pb::RenewAgentRequest request;
  ASSIGN_OR_RETURN(*request.mutable_csr(),
                   identity::MakeSvidCsrDer(*key, id, {}));
  const bool probe = options_.wire_bytes && counters_.count_probe_bytes;
  const uint64_t before = probe ? options_.wire_bytes() : 0;
  grpc::ClientContext context;
  SetDeadline(context);
  pb::AgentSvid svid;
  const grpc::Status status = Stub()->RenewAgent(&context, request, &svid);
  if (!status.ok()) {
    ++counters_.failures;
    absl::MutexLock lock(&mu_);
    agent_renew_at_ = clock_.Now() + kRetryAfter;
    return FromGrpc(status);
  }
  ASSIGN_OR_RETURN(std::string key_pem, identity::PrivateKeyToPkcs8Pem(*key));
  RETURN_IF_ERROR(AdoptSvid(svid, key_pem));
  ++counters_.agent_renewals;
  if (probe) {
    // The new SVID's connection (a full mTLS handshake) belongs to the
    // agent's renewal, not to the next SignX509.
    std::shared_ptr<grpc::Channel> channel;
    {
      absl::MutexLock lock(&mu_);
      channel = channel_;
    }
    channel->WaitForConnected(std::chrono::system_clock::now() +
                              std::chrono::seconds(10));
    counters_.probe_agent_renew_bytes +=
        static_cast<int64_t>(options_.wire_bytes() - before);
    ++counters_.probe_agent_renewals;
  }
  return absl::OkStatus();
}

absl::Status SimAgent::SignDue() {
  for (;;) {
    std::vector<std::pair<std::string, std::string>> due;  // id, spiffe_id
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = clock_.Now();
      for (const auto& [id, e] : entries_) {
        if (e.renew_at > now) continue;
        due.emplace_back(id, e.spiffe_id);
        if (due.size() == kMaxCsrsPerBatch) break;
      }
    }
    if (due.empty()) return absl::OkStatus();
    pb::SignX509Request request;
    for (const auto& [entry_id, spiffe_id] : due) {
      ASSIGN_OR_RETURN(identity::UniqueEvpPkey key,
                       identity::GenerateKey(identity::kDefaultKeyType));
      ASSIGN_OR_RETURN(identity::SpiffeId id,
                       identity::SpiffeId::FromString(spiffe_id));
      pb::CsrForEntry* item = request.add_csrs();
      item->set_entry_id(entry_id);
      ASSIGN_OR_RETURN(*item->mutable_csr(),
                       identity::MakeSvidCsrDer(*key, id, {}));
    }
    const bool probe = options_.wire_bytes != nullptr;
    const uint64_t before = probe ? options_.wire_bytes() : 0;
    grpc::ClientContext context;
    SetDeadline(context);
    pb::SignX509Response response;
    const grpc::Status status = Stub()->SignX509(&context, request, &response);
    ++counters_.sign_calls;
    const uint64_t after = probe ? options_.wire_bytes() : 0;
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    if (!status.ok()) {
      counters_.failures += static_cast<int64_t>(due.size());
      for (const auto& d : due) {
        auto it = entries_.find(d.first);
        if (it != entries_.end()) it->second.renew_at = now + kRetryAfter;
      }
      return FromGrpc(status);
    }
    int64_t renewed = 0, first = 0;
    for (const pb::SignX509Result& r : response.results()) {
      auto it = entries_.find(r.entry_id());
      if (it == entries_.end()) continue;  // deleted meanwhile
      if (r.chain_size() == 0) {
        ++counters_.failures;
        it->second.renew_at = now + kRetryAfter;
        continue;
      }
      if (it->second.ever_signed) {
        ++renewed;
      } else {
        it->second.ever_signed = true;
        ++signed_entries_;
        ++counters_.svids_first;
        ++first;
      }
      it->second.renew_at = RenewAt(absl::FromUnixSeconds(r.not_after_unix()));
    }
    counters_.svids_renewed += renewed;
    if (probe && renewed == response.results_size() &&
        counters_.count_probe_bytes) {
      counters_.probe_sign_bytes += static_cast<int64_t>(after - before);
      counters_.probe_sign_svids += renewed;
    }
    if (probe && first == response.results_size()) {
      counters_.probe_first_bytes += static_cast<int64_t>(after - before);
      counters_.probe_first_svids += first;
    }
    if (!all_signed_reported_ && options_.expected_entries > 0 &&
        signed_entries_ >= options_.expected_entries) {
      all_signed_reported_ = true;
      if (options_.on_all_signed) options_.on_all_signed(now);
    }
  }
}

}  // namespace mayfly::bench
