// The producer run: see produce.h.
#include "kafka/cli/produce.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "identity/status_macros.h"
#include "kafka/cli/errors.h"
#include "kafka/cli/handle.h"
#include "kafka/cli/transport.h"
#include "kafka/common/percentile.h"

namespace mayfly::kafka::cli {
namespace {

// How long rd_kafka_poll waits for deliveries to make room in a full queue.
constexpr int kQueueFullPollMs = 10;
// The longest wait for a paced message's turn, so that env.stop and
// --duration are seen promptly at a low --rate.
constexpr absl::Duration kMaxPaceWait = absl::Milliseconds(100);
// What rd_kafka_flush may take after the purge of what the first flush
// left: purged messages' reports only need serving.
constexpr absl::Duration kPurgeFlushTimeout = absl::Seconds(5);

int Millis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

// What the callbacks record. Delivery reports and error_cb are served by
// rd_kafka_poll and rd_kafka_flush on the producing thread; the lock is for
// librdkafka's habit of calling error_cb from its own threads too.
struct ProduceState {
  ProduceState(const identity::Clock& clock, std::ostream& err)
      : clock(clock),
        failures(err, "produce", kFailureLinesShown),
        client_errors(err, "produce: client error", kFailureLinesShown) {}

  const identity::Clock& clock;
  ErrorCounts errors;
  FailureLog failures;
  FailureLog client_errors;
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> bytes_delivered{0};
  std::atomic<bool> fatal{false};
  absl::Mutex mu;
  std::vector<absl::Duration> latencies ABSL_GUARDED_BY(mu);
};

// A message's opaque: which one, and when rd_kafka_producev was called.
struct InFlight {
  int64_t index;
  absl::Duration sent_at;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  ProduceState& state = *static_cast<ProduceState*>(opaque);
  // Ownership comes back from librdkafka with the report.
  std::unique_ptr<InFlight> sent(static_cast<InFlight*>(message->_private));
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const absl::Duration latency = state.clock.Monotonic() - sent->sent_at;
    state.delivered.fetch_add(1);
    state.bytes_delivered.fetch_add(
        static_cast<int64_t>(message->len + message->key_len));
    absl::MutexLock lock(&state.mu);
    state.latencies.push_back(latency);
    return;
  }
  state.errors.Count(message->err);
  state.failures.Add(
      absl::StrCat("message ", sent->index, ": ", ErrorText(message->err)));
}

void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  ProduceState& state = *static_cast<ProduceState*>(opaque);
  // An idempotent producer's fatal error ends the run: nothing more can be
  // sent in order (librdkafka's "Idempotent producer" contract).
  if (err == RD_KAFKA_RESP_ERR__FATAL) state.fatal = true;
  ReportClientError(err, reason, state.errors, state.client_errors);
}

struct Message {
  std::optional<std::string> key;
  std::string value;
};

// The next message, or nullopt when the input is over.
std::optional<Message> NextMessage(const ProduceOptions& options, int64_t index,
                                   std::istream& in) {
  if (!options.from_stdin) {
    return Message{absl::StrCat(index), GeneratedValue(index, options.size)};
  }
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t tab = line.find('\t');
  if (tab == std::string::npos) return Message{std::nullopt, line};
  return Message{line.substr(0, tab), line.substr(tab + 1)};
}

}  // namespace

std::string GeneratedValue(int64_t seq, int64_t size) {
  std::string value = absl::StrCat("seq=", seq, " ");
  if (static_cast<int64_t>(value.size()) < size) {
    value.resize(static_cast<size_t>(size), 'x');
  }
  return value;
}

absl::StatusOr<ProduceSummary> RunProduce(const ProduceOptions& options,
                                          const RunEnv& env) {
  const identity::Clock& clock = *env.clock;
  ProduceState state(clock, *env.err);
  UniqueConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_opaque(conf.get(), &state);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  const Settings settings = {
      {"bootstrap.servers", options.bootstrap},
      {"client.id", "mayfly-kafka-produce"},
      {"acks", options.acks},
      {"enable.idempotence", options.idempotent ? "true" : "false"},
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                   Transport::Start(options.transport, clock));
  RETURN_IF_ERROR(transport->Configure(conf.get(), settings));
  // Declared after `transport`, so destroyed before it.
  ASSIGN_OR_RETURN(UniqueKafka rk,
                   NewHandle(RD_KAFKA_PRODUCER, std::move(conf), *transport));

  const absl::Duration start = clock.Monotonic();
  int64_t sent = 0;
  std::optional<Message> pending;
  while (options.count == 0 || sent < options.count) {
    if ((env.stop != nullptr && env.stop->load()) || state.fatal.load()) break;
    const absl::Duration now = clock.Monotonic();
    if (options.duration && now - start >= *options.duration) break;
    if (options.rate > 0) {
      const absl::Duration due =
          start + absl::Seconds(static_cast<double>(sent) / options.rate);
      if (due > now) {
        rd_kafka_poll(rk.get(),
                      std::max(1, Millis(std::min(due - now, kMaxPaceWait))));
        continue;
      }
    }
    if (!pending) {
      pending = NextMessage(options, sent, *env.in);
      if (!pending) break;
    }
    // librdkafka's V_ macros cast their arguments unparenthesised.
    const void* key = pending->key ? pending->key->data() : nullptr;
    const size_t key_size = pending->key ? pending->key->size() : 0;
    auto* in_flight = new InFlight{sent, clock.Monotonic()};
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk.get(), RD_KAFKA_V_TOPIC(options.topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_VALUE(const_cast<char*>(pending->value.data()),
                         pending->value.size()),
        RD_KAFKA_V_OPAQUE(in_flight), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Not queued: librdkafka never reports on it, so it is ours again.
      delete in_flight;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk.get(), kQueueFullPollMs);
        continue;  // the same message again
      }
      state.errors.Count(err);
      state.failures.Add(absl::StrCat("message ", sent, ": ", ErrorText(err)));
    }
    ++sent;
    pending.reset();
    rd_kafka_poll(rk.get(), 0);
  }
  rd_kafka_flush(rk.get(), Millis(kProduceFlushTimeout));
  if (rd_kafka_outq_len(rk.get()) > 0) {
    // Their reports (_PURGE_QUEUE, _PURGE_INFLIGHT) count them as failed.
    rd_kafka_purge(rk.get(),
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk.get(), Millis(kPurgeFlushTimeout));
  }
  ProduceSummary summary;
  summary.elapsed = clock.Monotonic() - start;
  summary.sent = sent;
  summary.delivered = state.delivered.load();
  summary.failed = sent - summary.delivered;
  summary.bytes_delivered = state.bytes_delivered.load();
  {
    absl::MutexLock lock(&state.mu);
    summary.p50 = common::Percentile(state.latencies, 0.50);
    summary.p99 = common::Percentile(state.latencies, 0.99);
  }
  summary.rotations = transport->Rotations();
  summary.auth_errors = state.errors.auth.load() + transport->AuthFailures();
  summary.transport_errors = state.errors.transport.load();
  state.failures.Finish();
  state.client_errors.Finish();
  return summary;
}

}  // namespace mayfly::kafka::cli
