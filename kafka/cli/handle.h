// An owned rd_kafka_t, made from a conf through a Transport, with the
// callbacks every run shares; for produce.cc and consume.cc.
#ifndef MAYFLY_KAFKA_CLI_HANDLE_H_
#define MAYFLY_KAFKA_CLI_HANDLE_H_

#include <librdkafka/rdkafka.h>

#include "absl/status/statusor.h"
#include "kafka/cli/transport.h"
#include "kafka/common/rdkafka.h"

namespace mayfly::kafka::cli {

using common::UniqueConf;
using common::UniqueKafka;

// rd_kafka_new(type, conf) after `transport` checked it; `conf` is consumed
// either way. `transport` must outlive the handle.
absl::StatusOr<UniqueKafka> NewHandle(rd_kafka_type_t type, UniqueConf conf,
                                      const Transport& transport);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_HANDLE_H_
