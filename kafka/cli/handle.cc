// Making an rd_kafka_t: see handle.h.
#include "kafka/cli/handle.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::kafka::cli {

absl::StatusOr<UniqueKafka> NewHandle(rd_kafka_type_t type, UniqueConf conf,
                                      const Transport& transport) {
  char errstr[512];
  UniqueKafka rk(rd_kafka_new(type, conf.get(), errstr, sizeof(errstr)));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("rd_kafka_new: ", errstr));
  }
  conf.release();  // rd_kafka_new owns it from a successful return on
  RETURN_IF_ERROR(transport.CheckHandle(rk.get()));
  return rk;
}

}  // namespace mayfly::kafka::cli
