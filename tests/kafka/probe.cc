// probe: the Kafka client of the real-broker tests (tests/kafka/run_e2e).
//
// A librdkafka producer (C API) that takes its identity from an SVID
// directory that `mayfly fetch|watch x509 --write` wrote, checks that the
// broker presents the expected SPIFFE ID, and answers one question:
//
//   probe produce  --topic T --count N             delivered=N failed=0
//   probe produce  --topic T --duration S --rate R delivered=D failed=F
//   probe metadata --topic T                        topic T: OK | ERROR_NAME
//
// Exit 0: every message delivered (produce) or the topic is OK (metadata);
// 1: any failure or a topic error; 2: usage. Every wait is bounded.
//
// TLS as docs/kafka.md prescribes for librdkafka 2.0.2: the chain from
// ssl.certificate.location (ssl.certificate.pem would send the leaf only),
// hostname checking off (a broker SVID has a URI SAN, not a DNS name), and
// the broker's SPIFFE ID checked in ssl_cert_verify_cb at depth 0 instead.
#include <librdkafka/rdkafka.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "identity/cli/command.h"
#include "identity/cli/flags.h"
#include "identity/openssl_util.h"
#include "identity/x509_verify.h"

namespace mayfly::kafka_probe {
namespace {

using Clock = std::chrono::steady_clock;

// How long a metadata request or the final flush may take. A refused client
// never gets an answer, so this is also how long a refusal takes to show.
constexpr int kDefaultTimeoutMs = 10000;
// Upper bounds on what the tests ask for; the probe is not a load tool.
constexpr int64_t kMaxCount = 1000000;
constexpr int64_t kMaxDurationSeconds = 3600;
constexpr int64_t kMaxRate = 10000;

// What the callbacks record; librdkafka calls them from rd_kafka_poll and
// its own threads (the verify callback), hence the lock.
struct State {
  std::string broker_spiffe_id;
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  absl::Mutex mu;
  std::string first_delivery_error ABSL_GUARDED_BY(mu);
  std::string last_error ABSL_GUARDED_BY(mu);
  std::string verify_error ABSL_GUARDED_BY(mu);
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  State& state = *static_cast<State*>(opaque);
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

struct Options {
  std::string mode;
  std::string svid_dir;
  std::string bootstrap;
  std::string broker_spiffe_id;
  std::string topic;
  int64_t count = 0;
  int64_t duration_s = 0;
  int64_t rate = 0;
  int timeout_ms = kDefaultTimeoutMs;
};

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using UniqueKafka = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

UniqueKafka NewProducer(const Options& options, State& state) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::vector<std::pair<std::string, std::string>> settings = {
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
      {"enable.idempotence", "true"},
  };
  char errstr[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      std::cerr << "probe: " << name << ": " << errstr << "\n";
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  rd_kafka_conf_set_opaque(conf, &state);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_error_cb(conf, OnError);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  if (rd_kafka_conf_set_ssl_cert_verify_cb(conf, OnCertVerify) !=
      RD_KAFKA_CONF_OK) {
    std::cerr << "probe: librdkafka without ssl_cert_verify_cb\n";
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  // rd_kafka_new owns conf from here on success.
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    std::cerr << "probe: " << errstr << "\n";
    rd_kafka_conf_destroy(conf);
  }
  return UniqueKafka(rk);
}

// The broker's complaint or the verify callback's, for a failure line.
std::string Why(State& state) {
  absl::MutexLock lock(&state.mu);
  if (!state.verify_error.empty()) return state.verify_error;
  if (!state.first_delivery_error.empty()) return state.first_delivery_error;
  return state.last_error.empty() ? "no error reported" : state.last_error;
}

int Metadata(const Options& options, rd_kafka_t* rk, State& state) {
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, topic, &md, options.timeout_ms);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::cout << "metadata failed: " << rd_kafka_err2name(err) << " ("
              << Why(state) << ")\n";
    return cli::kExitFailure;
  }
  int code = cli::kExitFailure;
  std::string answer = "not in the answer";
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (options.topic != md->topics[i].topic) continue;
    const rd_kafka_resp_err_t topic_err = md->topics[i].err;
    answer = topic_err == RD_KAFKA_RESP_ERR_NO_ERROR
                 ? "OK"
                 : rd_kafka_err2name(topic_err);
    if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR) code = cli::kExitOk;
  }
  rd_kafka_metadata_destroy(md);
  std::cout << "topic " << options.topic << ": " << answer << "\n";
  return code;
}

int Produce(const Options& options, rd_kafka_t* rk, State& state) {
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
  const bool timed = options.duration_s > 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::seconds(options.duration_s);
  int64_t sent = 0, not_queued = 0;
  while (timed ? Clock::now() < end : sent < options.count) {
    if (timed) {
      // Paced: message k leaves at start + k / rate.
      const Clock::time_point due =
          start + std::chrono::microseconds(sent * 1000000 / options.rate);
      if (due > Clock::now()) {
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_until(std::min(due, end));
        continue;
      }
    }
    const std::string payload = absl::StrCat("probe ", sent);
    if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         const_cast<char*>(payload.data()), payload.size(),
                         nullptr, 0, nullptr) != 0) {
      ++not_queued;
      absl::MutexLock lock(&state.mu);
      if (state.first_delivery_error.empty()) {
        state.first_delivery_error = absl::StrCat(
            "not queued: ", rd_kafka_err2name(rd_kafka_last_error()));
      }
    }
    ++sent;
    rd_kafka_poll(rk, 0);
  }
  // message.timeout.ms bounds every message, so this flush is bounded too.
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(rk, options.timeout_ms + 5000);
  rd_kafka_topic_destroy(topic);
  const int64_t delivered = state.delivered.load();
  const int64_t failed =
      state.failed.load() + not_queued + rd_kafka_outq_len(rk);
  std::cout << "delivered=" << delivered << " failed=" << failed << "\n";
  if (failed > 0 || delivered != sent ||
      flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::cout << "first failure: " << Why(state) << "\n";
    return cli::kExitFailure;
  }
  return cli::kExitOk;
}

bool ParseBounded(const std::string& flag, const std::string& text, int64_t max,
                  int64_t* out) {
  if (text.empty()) return true;
  if (!absl::SimpleAtoi(text, out) || *out < 1 || *out > max) {
    std::cerr << "probe: --" << flag << ": want a number in [1, " << max
              << "]\n";
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Options options;
  std::string count, duration, rate, timeout_s = "10";
  cli::FlagSet flags(
      "probe produce|metadata --svid-dir DIR --bootstrap HOST:PORT "
      "--broker-spiffe-id ID --topic T [--count N | --duration S --rate R]",
      "A Kafka client with an SVID from DIR (svid.pem, svid_key.pem,\n"
      "svid_bundle.pem) that checks the broker's SPIFFE ID.");
  flags.String("svid-dir", &options.svid_dir, "SVID directory.");
  flags.String("bootstrap", &options.bootstrap, "Broker, HOST:PORT.");
  flags.String("broker-spiffe-id", &options.broker_spiffe_id,
               "The SPIFFE ID the broker's certificate must carry.");
  flags.String("topic", &options.topic, "Topic.");
  flags.String("count", &count, "produce: this many messages.");
  flags.String("duration", &duration, "produce: for this many seconds...");
  flags.String("rate", &rate, "...at this many messages per second.");
  flags.String("timeout", &timeout_s,
               "Seconds a request, or a message, may take.");
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(args);
  if (!positional.ok()) {
    std::cerr << "probe: " << positional.status().message() << "\n";
    return cli::kExitUsage;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return cli::kExitOk;
  }
  int64_t timeout = 0;
  if (positional->size() != 1 ||
      ((*positional)[0] != "produce" && (*positional)[0] != "metadata") ||
      options.svid_dir.empty() || options.bootstrap.empty() ||
      options.broker_spiffe_id.empty() || options.topic.empty() ||
      !ParseBounded("count", count, kMaxCount, &options.count) ||
      !ParseBounded("duration", duration, kMaxDurationSeconds,
                    &options.duration_s) ||
      !ParseBounded("rate", rate, kMaxRate, &options.rate) ||
      !ParseBounded("timeout", timeout_s, 600, &timeout)) {
    std::cerr << flags.Help();
    return cli::kExitUsage;
  }
  options.mode = (*positional)[0];
  options.timeout_ms = static_cast<int>(timeout * 1000);
  if (options.mode == "produce" &&
      (options.count > 0) == (options.duration_s > 0 && options.rate > 0)) {
    std::cerr << "probe produce: want --count, or --duration with --rate\n";
    return cli::kExitUsage;
  }
  State state;
  state.broker_spiffe_id = options.broker_spiffe_id;
  UniqueKafka rk = NewProducer(options, state);
  if (rk == nullptr) return cli::kExitUsage;
  return options.mode == "metadata" ? Metadata(options, rk.get(), state)
                                    : Produce(options, rk.get(), state);
}

}  // namespace
}  // namespace mayfly::kafka_probe

int main(int argc, char** argv) {
  return mayfly::kafka_probe::Main(argc, argv);
}
