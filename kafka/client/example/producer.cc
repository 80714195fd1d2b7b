// The client guide's example (docs/kafka.md, "The client library"): a
// librdkafka producer on the process's rotating SVIDs. Built by Bazel, so
// the guide's code always compiles:
//   example_producer BOOTSTRAP TOPIC BROKERS
// (SPIFFE_ENDPOINT_SOCKET names the agent; BROKERS is the SPIFFE ID pattern
// the brokers present, the policy's `brokers`, e.g. spiffe://prod.acme/kafka/*)
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <string>

#include "identity/workload/x509_source.h"
#include "kafka/client/kafka_identity.h"

using namespace mayfly;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    return Fail(absl::InvalidArgumentError("BOOTSTRAP TOPIC BROKERS"));
  }
  // Whom to accept as a broker: there is no default (any SVID can serve TLS).
  auto brokers = identity::SpiffeIdPattern::FromString(argv[3]);
  if (!brokers.ok()) return Fail(brokers.status());
  auto source = identity::workload::X509Source::Start("", {});
  if (!source.ok()) return Fail(source.status());
  auto first = (*source)->WaitForFirst(absl::Seconds(30));  // like go-spiffe
  if (!first.ok()) return Fail(first.status());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
  kafka::ClientOptions options;
  options.source = std::move(*source);
  options.broker_policy.brokers = {*std::move(brokers)};
  auto identity = kafka::KafkaIdentity::Configure(conf, options);
  if (!identity.ok()) return Fail(identity.status());
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return Fail(absl::InvalidArgumentError(err));
  for (int i = 0; i < 600; ++i) {  // a minute: the SVID rotates underneath
    std::string value = "message " + std::to_string(i);
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]),
                      RD_KAFKA_V_VALUE(value.data(), value.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_poll(rk, 100);
  }
  rd_kafka_flush(rk, 10000);
  rd_kafka_destroy(rk);
  std::printf("rotations=%lu\n", (*identity)->Stats().rotations);
}
