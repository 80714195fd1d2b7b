// The transport of a produce or consume run: see transport.h.
#include "kafka/cli/transport.h"

#include <limits.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "identity/svid_files.h"
#include "identity/workload/x509_source.h"

namespace mayfly::kafka::cli {
namespace {

// The ..data generation of `dir`, resolved once so that the chain, key and
// bundle librdkafka reads at rd_kafka_new are one consistent set even if
// `mayfly watch x509` swaps them meanwhile (identity/svid_files.h).
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

absl::Status SetProperties(rd_kafka_conf_t* conf, const Settings& settings) {
  char errstr[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("librdkafka property ", name, "=", value, ": ", errstr));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Configure(
    rd_kafka_conf_t* conf, const Settings& settings,
    const TransportOptions& options, const identity::Clock& clock) {
  RETURN_IF_ERROR(SetProperties(conf, settings));
  ASSIGN_OR_RETURN(const Settings transport, TransportSettings(options));
  RETURN_IF_ERROR(SetProperties(conf, transport));
  RETURN_IF_ERROR(SetProperties(conf, options.properties));
  // The constructor is private: no make_unique.
  std::unique_ptr<Transport> result(new Transport());
  if (options.tls != TlsMode::kMayfly) return result;

  identity::workload::X509Source::Options source_options;
  source_options.spiffe_id = options.spiffe_id;
  source_options.clock = &clock;
  ASSIGN_OR_RETURN(
      std::unique_ptr<identity::workload::X509Source> source,
      identity::workload::X509Source::Start(options.socket, source_options));
  result->source_ = std::move(source);
  result->log_sink_ = NewJsonStderrSink(clock);
  ClientOptions client;
  client.source = result->source_;
  client.broker_policy.broker_ids = options.broker_ids;
  client.broker_policy.trust_domains = options.trust_domains;
  client.log_sink = result->log_sink_.get();
  client.clock = &clock;
  ASSIGN_OR_RETURN(result->identity_,
                   KafkaIdentity::Configure(conf, std::move(client)));
  return result;
}

absl::Status Transport::CheckHandle(rd_kafka_t* rk) const {
  return identity_ == nullptr ? absl::OkStatus() : identity_->VerifyHandle(rk);
}

int64_t Transport::Rotations() const {
  return identity_ == nullptr
             ? 0
             : static_cast<int64_t>(identity_->Stats().rotations);
}

int64_t Transport::AuthFailures() const {
  if (identity_ == nullptr) return 0;
  const ClientStats stats = identity_->Stats();
  return static_cast<int64_t>(stats.svid_refused + stats.peer_rejected);
}

}  // namespace mayfly::kafka::cli
