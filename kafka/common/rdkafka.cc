// Setting librdkafka properties: see rdkafka.h.
#include "kafka/common/rdkafka.h"

#include "absl/strings/str_cat.h"

namespace mayfly::kafka::common {

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

}  // namespace mayfly::kafka::common
