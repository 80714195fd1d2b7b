// The transport of a produce or consume run: see transport.h.
#include "kafka/cli/transport.h"

#include <limits.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "identity/svid_files.h"
#include "identity/workload/x509_source.h"
#include "kafka/cli/files_broker_check.h"

namespace mayfly::kafka::cli {
namespace {

// The ..data generation of `dir`, resolved once so that the chain, key and
// bundle librdkafka reads at rd_kafka_new are one set even if `mayfly watch
// x509` swaps them meanwhile (identity/svid_files.h). The watch deletes the
// generation it replaced: resolve it right before rd_kafka_new, whose
// error then names the missing file, rather than read a chain of one
// generation and a key of the next.
absl::StatusOr<std::string> CurrentSvidFiles(const std::string& dir) {
  const std::string link = absl::StrCat(dir, "/", identity::kSvidDataLink);
  char resolved[PATH_MAX];
  if (realpath(link.c_str(), resolved) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--svid-dir ", dir, ": no ", identity::kSvidDataLink,
        " in it; want a directory `mayfly watch x509 --write` keeps"));
  }
  return std::string(resolved);
}

absl::StatusOr<Settings> TransportSettings(const TransportOptions& options) {
  switch (options.tls) {
    case TlsMode::kNone:
      return Settings{{"security.protocol", "plaintext"},
                      {"socket.nagle.disable", "true"}};
    case TlsMode::kFiles: {
      ASSIGN_OR_RETURN(const std::string data,
                       CurrentSvidFiles(options.svid_dir));
      return Settings{
          {"security.protocol", "ssl"},
          // The whole chain: ssl.certificate.pem would send the leaf only.
          {"ssl.certificate.location", data + "/svid.pem"},
          {"ssl.key.location", data + "/svid_key.pem"},
          {"ssl.ca.location", data + "/svid_bundle.pem"},
          {"ssl.endpoint.identification.algorithm", "none"},
          {"enable.ssl.certificate.verification", "true"},
          {"socket.nagle.disable", "true"}};
    }
    case TlsMode::kMayfly:
      return Settings{};
  }
  return absl::InternalError("unknown TlsMode");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> Transport::Start(
    const TransportOptions& options, const identity::Clock& clock) {
  // Checked now, for an early error; resolved again for each conf.
  RETURN_IF_ERROR(TransportSettings(options).status());
  // The constructor is private: no make_unique.
  std::unique_ptr<Transport> transport(new Transport(options));
  transport->clock_ = &clock;
  if (options.tls != TlsMode::kMayfly) return transport;
  if (options.source != nullptr) {
    transport->source_ = options.source;
  } else {
    identity::workload::X509Source::Options source_options;
    source_options.spiffe_id = options.spiffe_id;
    source_options.clock = &clock;
    ASSIGN_OR_RETURN(
        std::unique_ptr<identity::workload::X509Source> source,
        identity::workload::X509Source::Start(options.socket, source_options));
    RETURN_IF_ERROR(source->WaitForFirst(options.first_svid_timeout).status());
    // The SVID --spiffe-id names, if any, must be on offer too.
    RETURN_IF_ERROR(source->GetX509Svid().status());
    transport->source_ = std::move(source);
  }
  transport->log_sink_ = NewJsonStderrSink(clock);
  return transport;
}

absl::Status Transport::Configure(rd_kafka_conf_t* conf,
                                  const Settings& settings) {
  RETURN_IF_ERROR(SetProperties(conf, settings));
  ASSIGN_OR_RETURN(const Settings transport, TransportSettings(options_));
  RETURN_IF_ERROR(SetProperties(conf, transport));
  RETURN_IF_ERROR(SetProperties(conf, options_.properties));
  if (options_.tls == TlsMode::kFiles) {
    return AddBrokerIdCheck(conf, &broker_policy_);
  }
  if (source_ == nullptr) return absl::OkStatus();
  ClientOptions client;
  client.source = source_;
  client.broker_policy.brokers = options_.brokers;
  client.connect_to = options_.connect_to;
  client.log_sink = log_sink_.get();
  client.clock = clock_;
  ASSIGN_OR_RETURN(std::shared_ptr<KafkaIdentity> identity,
                   KafkaIdentity::Configure(conf, std::move(client)));
  absl::MutexLock lock(&mu_);
  identities_.push_back(std::move(identity));
  return absl::OkStatus();
}

absl::Status Transport::CheckHandle(rd_kafka_t* rk) const {
  absl::MutexLock lock(&mu_);
  if (identities_.empty()) return absl::OkStatus();
  // Whichever configured it: the others answer FailedPrecondition.
  absl::Status status;
  for (const auto& identity : identities_) {
    status = identity->VerifyHandle(rk);
    if (status.ok()) return status;
  }
  return status;
}

int64_t Transport::Rotations() const {
  absl::MutexLock lock(&mu_);
  int64_t rotations = 0;
  for (const auto& identity : identities_) {
    rotations += static_cast<int64_t>(identity->Stats().rotations);
  }
  return rotations;
}

int64_t Transport::AuthFailures() const {
  absl::MutexLock lock(&mu_);
  int64_t failures = 0;
  for (const auto& identity : identities_) {
    const ClientStats stats = identity->Stats();
    failures += static_cast<int64_t>(stats.svid_refused + stats.peer_rejected);
  }
  return failures;
}

}  // namespace mayfly::kafka::cli
