// The probe's librdkafka client. See probe_client.h.
#include "tests/kafka/probe_client.h"

#include <openssl/x509.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "identity/openssl_util.h"
#include "identity/x509_verify.h"

namespace mayfly::kafka_probe {
namespace {

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  State& state = *static_cast<State*>(opaque);
  if (message->_private != nullptr) {
    std::unique_ptr<SendTime> sent(static_cast<SendTime*>(message->_private));
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - sent->at);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      absl::MutexLock lock(&state.mu);
      state.latencies.push_back(absl::Microseconds(latency.count()));
    }
  }
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    state.delivered.fetch_add(1);
    return;
  }
  state.failed.fetch_add(1);
  absl::MutexLock lock(&state.mu);
  if (state.first_delivery_error.empty()) {
    state.first_delivery_error = absl::StrCat(
        rd_kafka_err2name(message->err), ": ", rd_kafka_err2str(message->err));
  }
}

void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  State& state = *static_cast<State*>(opaque);
  absl::MutexLock lock(&state.mu);
  state.last_error = absl::StrCat(
      rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), ": ", reason);
}

// librdkafka's log lines go to stderr as usual; a connection failure
// ("FAIL") is also kept, as the reason a refused probe prints.
void OnLog(const rd_kafka_t* rk, int level, const char* facility,
           const char* line) {
  std::cerr << "rdkafka " << level << " " << facility << ": " << line << "\n";
  if (std::string(facility) != "FAIL") return;
  State& state = *static_cast<State*>(rd_kafka_opaque(rk));
  if (std::string(line).find("Disconnected") != std::string::npos) {
    state.disconnects.fetch_add(1);
  }
  absl::MutexLock lock(&state.mu);
  state.last_error = line;
}

// OpenSSL has checked the chain against ssl.ca.location (x509_error); this
// adds the one check hostname verification would have made: the leaf is the
// broker we mean.
int OnCertVerify(rd_kafka_t*, const char* broker_name, int32_t, int* x509_error,
                 int depth, const char* der, size_t size, char* errstr,
                 size_t errstr_size, void* opaque) {
  State& state = *static_cast<State*>(opaque);
  if (*x509_error != X509_V_OK) return 0;  // keep OpenSSL's verdict
  if (depth != 0) return 1;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der);
  identity::UniqueX509 leaf(d2i_X509(nullptr, &p, static_cast<long>(size)));
  std::string problem;
  if (leaf == nullptr) {
    problem = "broker certificate does not parse";
  } else {
    absl::StatusOr<identity::SpiffeId> id = identity::SpiffeIdFromCert(*leaf);
    if (!id.ok()) {
      problem = absl::StrCat("broker certificate: ", id.status().message());
    } else if (id->ToString() != state.broker_spiffe_id) {
      problem = absl::StrCat("broker ", broker_name, " is ", id->ToString(),
                             ", want ", state.broker_spiffe_id);
    }
  }
  if (problem.empty()) return 1;
  snprintf(errstr, errstr_size, "%s", problem.c_str());
  absl::MutexLock lock(&state.mu);
  state.verify_error = problem;
  return 0;
}

}  // namespace

UniqueKafka NewProducer(const Options& options, State& state) {
  kafka::common::UniqueConf conf(rd_kafka_conf_new());
  const kafka::common::Settings settings = {
      {"bootstrap.servers", options.bootstrap},
      {"security.protocol", "ssl"},
      {"ssl.certificate.location", options.svid_dir + "/svid.pem"},
      {"ssl.key.location", options.svid_dir + "/svid_key.pem"},
      {"ssl.ca.location", options.svid_dir + "/svid_bundle.pem"},
      {"ssl.endpoint.identification.algorithm", "none"},
      {"enable.ssl.certificate.verification", "true"},
      {"api.version.fallback.ms", "0"},
      {"message.timeout.ms", std::to_string(options.timeout_ms)},
      {"socket.connection.setup.timeout.ms",
       std::to_string(options.timeout_ms)},
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
      {"linger.ms", "5"},
      // Nagle's algorithm with delayed ACKs holds small requests ~40 ms on
      // loopback; probe bench measures latency.
      {"socket.nagle.disable", "true"},
      {"enable.idempotence", "true"},
  };
  const absl::Status set = kafka::common::SetProperties(conf.get(), settings);
  if (!set.ok()) {
    std::cerr << "probe: " << set.message() << "\n";
    return nullptr;
  }
  rd_kafka_conf_set_opaque(conf.get(), &state);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  if (rd_kafka_conf_set_ssl_cert_verify_cb(conf.get(), OnCertVerify) !=
      RD_KAFKA_CONF_OK) {
    std::cerr << "probe: librdkafka without ssl_cert_verify_cb\n";
    return nullptr;
  }
  char errstr[512];
  UniqueKafka rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (rk == nullptr) {
    std::cerr << "probe: " << errstr << "\n";
    return nullptr;
  }
  conf.release();  // rd_kafka_new owns it from a successful return on
  return rk;
}

std::string Why(State& state) {
  absl::MutexLock lock(&state.mu);
  if (!state.verify_error.empty()) return state.verify_error;
  if (!state.first_delivery_error.empty()) return state.first_delivery_error;
  return state.last_error.empty() ? "no error reported" : state.last_error;
}
}  // namespace mayfly::kafka_probe
