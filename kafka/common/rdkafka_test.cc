// SetProperties (rdkafka.h): every property set in order, and the first
// one librdkafka refuses named, with the ones before it already set.
#include "kafka/common/rdkafka.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::kafka::common {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

std::string Get(rd_kafka_conf_t* conf, const char* name) {
  char value[256];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) {
    return "<unset>";
  }
  return value;
}

TEST(SetPropertiesTest, SetsEachInOrder) {
  UniqueConf conf(rd_kafka_conf_new());
  const absl::Status status = SetProperties(
      conf.get(),
      {{"linger.ms", "5"}, {"client.id", "first"}, {"client.id", "second"}});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(Get(conf.get(), "linger.ms"), "5");
  EXPECT_EQ(Get(conf.get(), "client.id"), "second");
}

TEST(SetPropertiesTest, NamesTheFirstRefused) {
  UniqueConf conf(rd_kafka_conf_new());
  const absl::Status status = SetProperties(
      conf.get(),
      {{"client.id", "set"}, {"no.such.property", "1"}, {"linger.ms", "7"}});
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("librdkafka property no.such.property=1: ")));
  EXPECT_EQ(Get(conf.get(), "client.id"), "set");
  EXPECT_NE(Get(conf.get(), "linger.ms"), "7");
}

TEST(UniqueKafkaTest, OwnsTheHandleAndItsConf) {
  UniqueConf conf(rd_kafka_conf_new());
  char errstr[512];
  UniqueKafka rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  ASSERT_NE(rk, nullptr) << errstr;
  conf.release();  // rd_kafka_new owns it from a successful return on
  EXPECT_EQ(rd_kafka_type(rk.get()), RD_KAFKA_PRODUCER);
}

}  // namespace
}  // namespace mayfly::kafka::common
