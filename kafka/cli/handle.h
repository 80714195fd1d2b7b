// An owned rd_kafka_t, made from a conf through a Transport, with the
// callbacks every run shares; for produce.cc and consume.cc.
#ifndef MAYFLY_KAFKA_CLI_HANDLE_H_
#define MAYFLY_KAFKA_CLI_HANDLE_H_

#include <librdkafka/rdkafka.h>

#include <memory>

#include "absl/status/statusor.h"
#include "kafka/cli/transport.h"

namespace mayfly::kafka::cli {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using UniqueKafka = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using UniqueConf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// rd_kafka_new(type, conf) after `transport` checked it; `conf` is consumed
// either way. `transport` must outlive the handle.
absl::StatusOr<UniqueKafka> NewHandle(rd_kafka_type_t type, UniqueConf conf,
                                      const Transport& transport);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_HANDLE_H_
