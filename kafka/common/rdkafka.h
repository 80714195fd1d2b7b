// Owning librdkafka handles and confs, and setting a list of properties on
// a conf: what every librdkafka client here (kafka/cli, bridge,
// tests/kafka's probe) needs before its own callbacks and settings.
//
// rd_kafka_new takes its conf only when it succeeds:
//
//   UniqueConf conf(rd_kafka_conf_new());
//   RETURN_IF_ERROR(SetProperties(conf.get(), settings));
//   UniqueKafka rk(rd_kafka_new(type, conf.get(), errstr, sizeof(errstr)));
//   if (rk == nullptr) return ...;  // `conf` still owns the conf
//   conf.release();                 // rd_kafka_new owns it now
#ifndef MAYFLY_KAFKA_COMMON_RDKAFKA_H_
#define MAYFLY_KAFKA_COMMON_RDKAFKA_H_

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace mayfly::kafka::common {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using UniqueKafka = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using UniqueConf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// librdkafka properties, NAME and VALUE, set in order.
using Settings = std::vector<std::pair<std::string, std::string>>;

// Sets each property in order on `conf` (not owned); InvalidArgument
// "librdkafka property NAME=VALUE: <librdkafka's reason>" for the first one
// refused, the ones before it set.
absl::Status SetProperties(rd_kafka_conf_t* conf, const Settings& settings);

}  // namespace mayfly::kafka::common

#endif  // MAYFLY_KAFKA_COMMON_RDKAFKA_H_
