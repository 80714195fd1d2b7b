// The pure helpers of the etcd client: prefix ranges and quoted keys.
#include "identity/server/etcd/internal/etcd_client.h"

#include <string>

#include "gtest/gtest.h"

namespace mayfly::server::etcd_internal {
namespace {

using namespace std::string_literals;

TEST(PrefixRangeEndTest, IncrementsTheLastByte) {
  EXPECT_EQ(PrefixRangeEnd("/entries/"), "/entries0");
  EXPECT_EQ(PrefixRangeEnd("a"), "b");
  EXPECT_EQ(PrefixRangeEnd("a\x01"s), "a\x02"s);
}

TEST(PrefixRangeEndTest, DropsTrailingFfBytes) {
  EXPECT_EQ(PrefixRangeEnd("a\xff"s), "b");
  EXPECT_EQ(PrefixRangeEnd("a\xfe\xff\xff"s), "a\xff"s);
}

TEST(PrefixRangeEndTest, EveryKeyWhenNothingCanBeIncremented) {
  // etcd's "\0" range end: every key from the start key on.
  EXPECT_EQ(PrefixRangeEnd(""), "\0"s);
  EXPECT_EQ(PrefixRangeEnd("\xff\xff"s), "\0"s);
}

TEST(QuoteKeyTest, EscapesAndCutsLongKeys) {
  EXPECT_EQ(QuoteKey("/a/b"), "\"/a/b\"");
  EXPECT_EQ(QuoteKey("a\n\x01\""s), "\"a\\n\\x01\\\"\"");
  const std::string key(100, 'k');
  EXPECT_EQ(QuoteKey(key), "\"" + std::string(64, 'k') + "...\" (100 bytes)");
  EXPECT_EQ(QuoteKey(std::string(64, 'k')), "\"" + std::string(64, 'k') + "\"");
}

TEST(FromGrpcTest, KeepsTheCodeAndPrefixesTheMessage) {
  const absl::Status status =
      FromGrpc(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "etcdserver: duplicate key given in txn request"),
               "etcd 10.0.0.1:2379: Txn on \"a\"");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "etcd 10.0.0.1:2379: Txn on \"a\": etcdserver: duplicate key given "
            "in txn request");
  EXPECT_TRUE(FromGrpc(grpc::Status::OK, "x").ok());
}

}  // namespace
}  // namespace mayfly::server::etcd_internal
