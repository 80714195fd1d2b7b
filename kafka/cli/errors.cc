// librdkafka error classes and the capped failure log: see errors.h.
#include "kafka/cli/errors.h"

#include "absl/strings/str_cat.h"

namespace mayfly::kafka::cli {

bool IsAuthError(rd_kafka_resp_err_t err) {
  switch (err) {
    // Local: the TLS handshake failed or a certificate was refused, either
    // side (librdkafka reports both as _SSL when its own TLS is used), and
    // SASL/TLS authentication failed.
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    // The broker's verdicts: its authorizer refused the principal (the
    // plugin maps an SVID to it), or its authenticator refused the client.
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return true;
    default:
      return false;
  }
}

bool IsTransportError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
}

std::string ErrorText(rd_kafka_resp_err_t err) {
  return absl::StrCat(rd_kafka_err2name(err), ": ", rd_kafka_err2str(err));
}

void ReportClientError(int err, const char* reason, ErrorCounts& counts,
                       FailureLog& log) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  counts.Count(code);
  log.Add(absl::StrCat(rd_kafka_err2name(code), ": ", reason));
}

void FailureLog::Add(const std::string& line) {
  absl::MutexLock lock(&mu_);
  if (++total_ <= limit_) out_ << prefix_ << ": " << line << "\n";
}

void FailureLog::Finish() {
  absl::MutexLock lock(&mu_);
  if (total_ > limit_) {
    out_ << prefix_ << ": " << total_ - limit_ << " more failures not shown\n";
  }
  out_.flush();
}

int64_t FailureLog::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace mayfly::kafka::cli
