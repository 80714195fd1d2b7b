// The bookkeeping behind the summary lines: sequence numbers,
// group steadiness and rebalances, error classes, and the lines themselves.
#include <sstream>

#include "gtest/gtest.h"
#include "kafka/cli/errors.h"
#include "kafka/cli/group_state.h"
#include "kafka/cli/summary.h"

namespace mayfly::kafka::cli {
namespace {

TEST(SequenceTrackerTest, CountsDuplicatesAndLosses) {
  SequenceTracker tracker;
  for (int64_t seq : {0, 1, 2, 4, 2, 2, 7}) tracker.Record(seq);
  EXPECT_EQ(tracker.received(), 7);
  EXPECT_EQ(tracker.distinct(), 5);
  EXPECT_EQ(tracker.Lost(5), 1);  // 3
  EXPECT_EQ(tracker.Lost(8), 3);  // 3, 5, 6; 7 is in range
  EXPECT_EQ(tracker.Lost(2), 0);  // 4 and 7 are beyond it
  tracker.Record(std::nullopt);
  tracker.Record(std::nullopt);
  EXPECT_EQ(tracker.received(), 9);
  EXPECT_EQ(tracker.distinct(), 7);
}

// A duplicate says where its first copy was read.
TEST(SequenceTrackerTest, DuplicateReturnsTheFirstCopysPlace) {
  SequenceTracker tracker;
  EXPECT_FALSE(tracker.Record(7, {2, 100}).has_value());
  EXPECT_FALSE(tracker.Record(8, {2, 101}).has_value());
  std::optional<ReadPlace> again = tracker.Record(7, {0, 5});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->partition, 2);
  EXPECT_EQ(again->offset, 100);
  // The first place stays: a third copy still names it.
  again = tracker.Record(7, {2, 100});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->offset, 100);
  EXPECT_FALSE(tracker.Record(std::nullopt, {1, 1}).has_value());
}

TEST(SequenceOfKeyTest, DecimalDigitsOnly) {
  EXPECT_EQ(SequenceOfKey("1234", 4), 1234);
  EXPECT_EQ(SequenceOfKey("0", 1), 0);
  EXPECT_EQ(SequenceOfKey("12", 1), 1);  // the key's bytes, not the C string
  EXPECT_EQ(SequenceOfKey(nullptr, 0), std::nullopt);
  EXPECT_EQ(SequenceOfKey("-1", 2), std::nullopt);
  EXPECT_EQ(SequenceOfKey("+1", 2), std::nullopt);
  EXPECT_EQ(SequenceOfKey("1a", 2), std::nullopt);
  EXPECT_EQ(SequenceOfKey(" 1", 2), std::nullopt);
  EXPECT_EQ(SequenceOfKey("99999999999999999999", 20), std::nullopt);
}

TEST(GroupStateTest, SteadyOnceEveryMemberHoldsPartitionsAndAllAreHeld) {
  GroupState group(2);
  group.Assigned(0, {0, 1, 2}, /*replace=*/true);
  EXPECT_FALSE(group.steady());  // partition count unknown
  group.SetPartitionCount(3);
  EXPECT_FALSE(group.steady());  // member 1 holds nothing
  // The second member joins: the first gives all back, both get some.
  group.Revoked(0, {0, 1, 2}, true);
  group.Assigned(1, {2}, true);
  EXPECT_FALSE(group.steady());  // member 0 holds nothing
  group.Assigned(0, {0, 1}, true);
  EXPECT_TRUE(group.steady());
  EXPECT_EQ(group.rebalances(), 0);
  // A rebalance after that counts each callback.
  group.Revoked(1, {2}, true);
  group.Assigned(1, {2}, true);
  EXPECT_EQ(group.rebalances(), 2);
  EXPECT_TRUE(group.steady());
  // Leaving the group is not a rebalance.
  group.Closing();
  group.Revoked(0, {0, 1}, true);
  EXPECT_EQ(group.rebalances(), 2);
}

TEST(GroupStateTest, NotSteadyWhilePartitionsAreMissingOrHeldTwice) {
  GroupState missing(2);
  missing.SetPartitionCount(3);
  missing.Assigned(0, {0}, true);
  missing.Assigned(1, {1}, true);
  EXPECT_FALSE(missing.steady());
  GroupState twice(2);
  twice.SetPartitionCount(2);
  twice.Assigned(0, {0, 1}, true);
  twice.Assigned(1, {1}, true);
  EXPECT_FALSE(twice.steady());
}

TEST(GroupStateTest, CooperativeIncrements) {
  GroupState group(2);
  group.SetPartitionCount(2);
  group.Assigned(0, {0, 1}, /*replace=*/false);
  group.Revoked(0, {1}, false);
  group.Assigned(1, {1}, false);
  EXPECT_TRUE(group.steady());
  group.Assigned(1, {}, false);
  EXPECT_EQ(group.rebalances(), 1);
}

TEST(ErrorClassTest, AuthAndTransport) {
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__SSL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED}) {
    EXPECT_TRUE(IsAuthError(err)) << rd_kafka_err2name(err);
    EXPECT_FALSE(IsTransportError(err)) << rd_kafka_err2name(err);
  }
  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN}) {
    EXPECT_TRUE(IsTransportError(err)) << rd_kafka_err2name(err);
    EXPECT_FALSE(IsAuthError(err)) << rd_kafka_err2name(err);
  }
  EXPECT_FALSE(IsAuthError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
  EXPECT_FALSE(IsTransportError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
  ErrorCounts counts;
  counts.Count(RD_KAFKA_RESP_ERR__SSL);
  counts.Count(RD_KAFKA_RESP_ERR__TRANSPORT);
  counts.Count(RD_KAFKA_RESP_ERR__TRANSPORT);
  counts.Count(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
  EXPECT_EQ(counts.auth.load(), 1);
  EXPECT_EQ(counts.transport.load(), 2);
}

TEST(FailureLogTest, ShowsTheFirstLinesThenCounts) {
  std::ostringstream out;
  FailureLog log(out, "produce", 2);
  log.Finish();
  EXPECT_EQ(out.str(), "");
  log.Add("a");
  log.Add("b");
  log.Add("c");
  log.Add("d");
  log.Finish();
  EXPECT_EQ(out.str(),
            "produce: a\nproduce: b\nproduce: 2 more failures not shown\n");
  EXPECT_EQ(log.total(), 4);
}

TEST(SummaryTest, ProduceLine) {
  ProduceSummary s;
  s.sent = 1000;
  s.delivered = 998;
  s.failed = 2;
  s.bytes_delivered = 2000000;
  s.elapsed = absl::Seconds(4);
  s.p50 = absl::Microseconds(1500);
  s.p99 = absl::Milliseconds(12);
  s.rotations = 3;
  s.auth_errors = 1;
  s.transport_errors = 4;
  EXPECT_EQ(FormatProduceSummary(s),
            "produce: sent=1000 delivered=998 failed=2 seconds=4.000 "
            "msgs_per_s=249.5 mb_per_s=0.500 p50_ms=1.500 p99_ms=12.000 "
            "rotations=3 auth_errors=1 transport_errors=4");
  EXPECT_EQ(ProduceProblems(s), "failed=2");
  EXPECT_EQ(ProduceProblems(ProduceSummary()), "");
  EXPECT_EQ(FormatProduceSummary(ProduceSummary()),
            "produce: sent=0 delivered=0 failed=0 seconds=0.000 "
            "msgs_per_s=0.0 mb_per_s=0.000 p50_ms=0.000 p99_ms=0.000 "
            "rotations=0 auth_errors=0 transport_errors=0");
}

TEST(SummaryTest, ConsumeLineAndProblems) {
  ConsumeSummary s;
  s.received = 2001;
  s.distinct = 2000;
  s.duplicated = 1;
  s.lost = 0;
  s.rebalances = 2;
  s.elapsed = absl::Milliseconds(2500);
  s.rotations = 7;
  s.transport_errors = 1;
  EXPECT_EQ(FormatConsumeSummary(s),
            "consume: received=2001 distinct=2000 duplicated=1 lost=0 "
            "rebalances=2 seconds=2.500 msgs_per_s=800.4 rotations=7 "
            "auth_errors=0 transport_errors=1");
  EXPECT_EQ(ConsumeProblems(s), "duplicated=1 rebalances=2");
  s.duplicated = 0;
  s.rebalances = 0;
  s.lost = 3;
  s.auth_errors = 1;
  EXPECT_EQ(ConsumeProblems(s), "lost=3 auth_errors=1");
  // transport_errors alone is not a failure: librdkafka reconnects.
  s.lost = 0;
  s.auth_errors = 0;
  EXPECT_EQ(ConsumeProblems(s), "");
}

}  // namespace
}  // namespace mayfly::kafka::cli
