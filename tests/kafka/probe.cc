// probe: the Kafka client of the real-broker tests (tests/kafka/run_e2e).
//
// A librdkafka producer (C API, probe_client.h) that takes its identity from
// an SVID directory that `mayfly fetch|watch x509 --write` wrote, checks that
// the broker presents the expected SPIFFE ID, and answers one question:
//
//   probe produce  --topic T --count N             delivered=N failed=0
//   probe produce  --topic T --duration S --rate R delivered=D failed=F
//   probe metadata --topic T                        topic T: OK | ERROR_NAME
//   probe expiry   --topic T                        see Expiry()
//   probe bench    --topic T --count N [--size B]   see Bench()
//
// Exit 0: every message delivered (produce), the topic is OK (metadata), or
// the broker stopped serving at the SVID's expiry (expiry), every message
// delivered (bench); 1: any failure
// or a topic error; 2: usage. Every wait is bounded.
#include <librdkafka/rdkafka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/cli/command.h"
#include "identity/cli/flags.h"
#include "identity/openssl_util.h"
#include "kafka/common/percentile.h"
#include "tests/kafka/probe_client.h"

namespace mayfly::kafka_probe {
namespace {

using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

// Upper bounds on what the tests ask for; the probe is not a load tool.
constexpr int64_t kMaxCount = 1000000;
constexpr int64_t kMaxDurationSeconds = 3600;
constexpr int64_t kMaxRate = 10000;
constexpr int64_t kMaxSize = 1000000;

// One metadata request for the topic. Whether the broker answered; the
// topic's state ("OK" or its error's name) or why there was no answer.
bool AskMetadata(const Options& options, rd_kafka_t* rk, State& state,
                 std::string* answer) {
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, topic, &md, options.timeout_ms);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *answer = absl::StrCat(rd_kafka_err2name(err), " (", Why(state), ")");
    return false;
  }
  *answer = "not in the answer";
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (options.topic != md->topics[i].topic) continue;
    const rd_kafka_resp_err_t topic_err = md->topics[i].err;
    *answer = topic_err == RD_KAFKA_RESP_ERR_NO_ERROR
                  ? "OK"
                  : rd_kafka_err2name(topic_err);
  }
  rd_kafka_metadata_destroy(md);
  return true;
}

int Metadata(const Options& options, rd_kafka_t* rk, State& state) {
  std::string answer;
  if (!AskMetadata(options, rk, state, &answer)) {
    std::cout << "metadata failed: " << answer << "\n";
    return cli::kExitFailure;
  }
  std::cout << "topic " << options.topic << ": " << answer << "\n";
  return answer == "OK" ? cli::kExitOk : cli::kExitFailure;
}

// The NotAfter of the leaf in DIR/svid.pem, or nullopt (said on stderr).
std::optional<WallClock::time_point> LeafNotAfter(const std::string& dir) {
  const std::string path = dir + "/svid.pem";
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) {
    std::cerr << "probe: cannot open " << path << "\n";
    return std::nullopt;
  }
  identity::UniqueX509 leaf(PEM_read_X509(f, nullptr, nullptr, nullptr));
  fclose(f);
  struct tm tm {};
  if (leaf == nullptr ||
      ASN1_TIME_to_tm(X509_get0_notAfter(leaf.get()), &tm) != 1) {
    std::cerr << "probe: no certificate with a NotAfter in " << path << "\n";
    return std::nullopt;
  }
  return WallClock::from_time_t(timegm(&tm));
}

// Expiry enforcement, seen from a client that never renews its SVID: a
// metadata request on one connection now, one 1.5 s before the SVID's
// NotAfter (both must be answered: the SVID works to its end), and one
// 0.2 s after it, which the broker must not serve; then whether the
// connection was closed (librdkafka logged it "Disconnected"). Prints
//   before_expiry=OK after_expiry=NOT_SERVED disconnected=yes
// (after_expiry=SERVED when the broker answered). --timeout bounds each
// request; an SVID with less than 3 s left is a usage error.
int Expiry(const Options& options, rd_kafka_t* rk, State& state) {
  const std::optional<WallClock::time_point> not_after =
      LeafNotAfter(options.svid_dir);
  if (!not_after.has_value()) return cli::kExitUsage;
  if (*not_after - WallClock::now() < std::chrono::seconds(3)) {
    std::cerr << "probe expiry: the SVID expires in under 3 s\n";
    return cli::kExitUsage;
  }
  std::string first, before, after;
  const bool first_ok = AskMetadata(options, rk, state, &first);
  std::this_thread::sleep_until(*not_after - std::chrono::milliseconds(1500));
  const bool before_ok = first_ok && AskMetadata(options, rk, state, &before);
  const int64_t disconnects_before = state.disconnects.load();
  std::this_thread::sleep_until(*not_after + std::chrono::milliseconds(200));
  const bool served = AskMetadata(options, rk, state, &after);
  // The close reaches librdkafka's log at once; allow it a second.
  for (int i = 0; i < 10 && state.disconnects.load() == disconnects_before;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool disconnected = state.disconnects.load() > disconnects_before;
  std::cout << "before_expiry="
            << (!first_ok   ? "FAILED(" + first + ")"
                : before_ok ? before
                            : "FAILED(" + before + ")")
            << " after_expiry="
            << (served ? "SERVED(" + after + ")" : "NOT_SERVED")
            << " disconnected=" << (disconnected ? "yes" : "no") << "\n";
  return before_ok && before == "OK" && !served && disconnected
             ? cli::kExitOk
             : cli::kExitFailure;
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

// Throughput and latency: N messages of --size bytes (acks=all, idempotent,
// linger.ms=5), produced as fast as librdkafka queues them, or with --rate
// paced at that many a second, then flushed. Prints
//   messages=N seconds=S msgs_per_s=R p50_ms=A p99_ms=B failed=F
// with S from the first produce to the last delivery, and each latency from
// produce to its delivery report (unpaced, that is mostly queueing: read
// the latency of a paced run).
int Bench(const Options& options, rd_kafka_t* rk, State& state) {
  rd_kafka_topic_t* topic =
      rd_kafka_topic_new(rk, options.topic.c_str(), nullptr);
  const std::string payload(static_cast<size_t>(options.size), 'm');
  const Clock::time_point start = Clock::now();
  int64_t sent = 0;
  while (sent < options.count) {
    if (options.rate > 0) {
      const Clock::time_point due =
          start + std::chrono::microseconds(sent * 1000000 / options.rate);
      if (due > Clock::now()) {
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_until(due);
        continue;
      }
    }
    auto* at = new SendTime{Clock::now()};
    if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         const_cast<char*>(payload.data()), payload.size(),
                         nullptr, 0, at) != 0) {
      delete at;
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(rk, 10);  // the queue is full: let deliveries drain it
      continue;
    }
    ++sent;
    rd_kafka_poll(rk, 0);
  }
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(rk, options.timeout_ms + 5000);
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  rd_kafka_topic_destroy(topic);
  std::vector<absl::Duration> latencies;
  {
    absl::MutexLock lock(&state.mu);
    latencies = state.latencies;
  }
  auto percentile_ms = [&](double p) {
    return absl::ToDoubleMilliseconds(kafka::common::Percentile(latencies, p));
  };
  const int64_t failed = options.count - state.delivered.load();
  printf(
      "messages=%lld seconds=%.3f msgs_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
      "failed=%lld\n",
      static_cast<long long>(sent), seconds, sent / seconds,
      percentile_ms(0.50), percentile_ms(0.99), static_cast<long long>(failed));
  if (failed > 0 || flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
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
  std::string count, duration, rate, size, timeout_s = "10";
  cli::FlagSet flags(
      "probe produce|metadata|expiry|bench --svid-dir DIR --bootstrap "
      "HOST:PORT "
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
  flags.String("size", &size, "bench: bytes per message (100).");
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
      ((*positional)[0] != "produce" && (*positional)[0] != "metadata" &&
       (*positional)[0] != "expiry" && (*positional)[0] != "bench") ||
      options.svid_dir.empty() || options.bootstrap.empty() ||
      options.broker_spiffe_id.empty() || options.topic.empty() ||
      !ParseBounded("count", count, kMaxCount, &options.count) ||
      !ParseBounded("duration", duration, kMaxDurationSeconds,
                    &options.duration_s) ||
      !ParseBounded("rate", rate, kMaxRate, &options.rate) ||
      !ParseBounded("size", size, kMaxSize, &options.size) ||
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
  if (options.mode == "metadata") return Metadata(options, rk.get(), state);
  if (options.mode == "expiry") return Expiry(options, rk.get(), state);
  if (options.mode == "bench") {
    if (options.count == 0) {
      std::cerr << "probe bench: want --count\n";
      return cli::kExitUsage;
    }
    return Bench(options, rk.get(), state);
  }
  return Produce(options, rk.get(), state);
}

}  // namespace
}  // namespace mayfly::kafka_probe

int main(int argc, char** argv) {
  return mayfly::kafka_probe::Main(argc, argv);
}
