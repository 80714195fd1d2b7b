// Tests for the relayed-connection state machine: pipelining, acks=0,
// switching idle and busy, overlap (in time and forced), the deadline hold,
// and the errors that end a connection. Time is a FakeClock.
#include "kafka/client/internal/relay_conn.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "kafka/client/internal/frame_testing.h"

namespace mayfly::kafka::internal {
namespace {

using ::mayfly::testing_util::InvalidWith;
using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using State = RelayConn::State;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
const absl::Time kNotAfter1 = kStart + absl::Minutes(10);
const absl::Time kNotAfter2 = kStart + absl::Minutes(20);

std::string Metadata(int32_t corr) {
  return RequestFrame(3, 4, corr, "rdkafka", Unhex("ffffffff 00"));
}
std::string Fetch(int32_t corr) {
  return RequestFrame(1, 11, corr, "rdkafka", std::string(30, '\1'));
}
std::string Produce(int32_t corr, int16_t acks) {
  return ProduceFrame({7, corr, acks, "rdkafka", std::nullopt, false});
}
std::string Response(int32_t corr) {
  return ResponseFrame(corr, "body-of-" + std::to_string(corr));
}

class RelayConnTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{kStart};
};

TEST_F(RelayConnTest, PipelinedRequestsAndResponsesInAnyChunking) {
  const std::string requests = Metadata(1) + Produce(2, 1) + Fetch(3);
  const std::string responses = Response(1) + Response(2) + Response(3);
  // Whole, then one byte at a time.
  for (size_t step : {requests.size() + responses.size(), size_t{1}}) {
    RelayConn conn(1, kNotAfter1, clock_);
    for (size_t i = 0; i < requests.size(); i += step) {
      ASSERT_TRUE(conn.OnClientBytes(requests.substr(i, step)).ok());
    }
    EXPECT_EQ(conn.TakeUpstreamOutput(1), requests);
    EXPECT_THAT(conn.InFlight(1), ElementsAre(1, 2, 3));
    for (size_t i = 0; i < responses.size(); i += step) {
      ASSERT_TRUE(conn.OnUpstreamBytes(1, responses.substr(i, step)).ok());
    }
    EXPECT_EQ(conn.TakeClientOutput(), responses);
    EXPECT_THAT(conn.InFlight(1), IsEmpty());
    EXPECT_TRUE(conn.SwitchSafe());
  }
}

TEST_F(RelayConnTest, AcksZeroProduceIsNeverAwaited) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(
      conn.OnClientBytes(Produce(5, 0) + Metadata(6) + Produce(7, 0)).ok());
  EXPECT_THAT(conn.InFlight(1), ElementsAre(6));
  ASSERT_TRUE(conn.OnUpstreamBytes(1, Response(6)).ok());
  EXPECT_TRUE(conn.SwitchSafe());
  EXPECT_THAT(conn.OnUpstreamBytes(1, Response(5)),
              InvalidWith("correlation id 5 but no request awaits one"));
}

TEST_F(RelayConnTest, SwitchWhileIdleIsImmediate) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Produce(1, 0)).ok());
  ASSERT_TRUE(conn.SwitchSafe());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  EXPECT_EQ(conn.state(), State::kActive);
  EXPECT_EQ(conn.current(), 2u);
  EXPECT_EQ(conn.counters().switches, 1u);
  // The acks=0 request not yet written to upstream 1 is handed back.
  std::vector<RelayConn::Retired> retired = conn.TakeRetired();
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0].id, 1u);
  EXPECT_EQ(retired[0].final_output, Produce(1, 0));
  ASSERT_TRUE(conn.OnClientBytes(Metadata(2)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Metadata(2));
  EXPECT_EQ(conn.TakeUpstreamOutput(1), "");
}

TEST_F(RelayConnTest, PartialRequestFrameBlocksTheSwitch) {
  RelayConn conn(1, kNotAfter1, clock_);
  const std::string m = Metadata(1);
  ASSERT_TRUE(conn.OnClientBytes(m.substr(0, 3)).ok());
  EXPECT_FALSE(conn.SwitchSafe());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  // The rest of the frame follows its start to upstream 1.
  ASSERT_TRUE(conn.OnClientBytes(m.substr(3) + Metadata(2)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(1), m);
  EXPECT_EQ(conn.held_bytes(), Metadata(2).size());
  ASSERT_TRUE(conn.OnUpstreamBytes(1, Response(1)).ok());
  EXPECT_EQ(conn.state(), State::kActive);
  EXPECT_EQ(conn.current(), 2u);
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Metadata(2));
}

TEST_F(RelayConnTest, SwitchWithRequestsInFlightHoldsThenReleases) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Produce(1, -1) + Metadata(2)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(1), Produce(1, -1) + Metadata(2));
  EXPECT_FALSE(conn.SwitchSafe());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  EXPECT_EQ(conn.state(), State::kDraining);

  ASSERT_TRUE(conn.OnClientBytes(Produce(3, -1) + Fetch(4)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(1), "");
  EXPECT_EQ(conn.TakeUpstreamOutput(2), "");
  EXPECT_EQ(conn.held_bytes(), (Produce(3, -1) + Fetch(4)).size());

  // The old upstream still answers, in order, and the client gets it.
  const std::string r2 = Response(2);
  // Response 2's header (so nothing awaits any more) but not its end.
  ASSERT_TRUE(conn.OnUpstreamBytes(1, Response(1) + r2.substr(0, 9)).ok());
  EXPECT_EQ(conn.TakeClientOutput(), Response(1) + r2.substr(0, 9));
  EXPECT_THAT(conn.InFlight(1), IsEmpty());
  EXPECT_EQ(conn.state(), State::kDraining);  // a partial response remains
  ASSERT_TRUE(conn.OnUpstreamBytes(1, r2.substr(9)).ok());
  EXPECT_EQ(conn.TakeClientOutput(), r2.substr(9));

  EXPECT_EQ(conn.state(), State::kActive);
  EXPECT_EQ(conn.current(), 2u);
  EXPECT_EQ(conn.counters().switches, 1u);
  EXPECT_EQ(conn.counters().overlaps + conn.counters().forced_overlaps, 0u);
  EXPECT_EQ(conn.held_bytes(), 0u);
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Produce(3, -1) + Fetch(4));
  EXPECT_THAT(conn.InFlight(2), ElementsAre(3, 4));
  ASSERT_EQ(conn.TakeRetired().size(), 1u);
  ASSERT_TRUE(conn.OnUpstreamBytes(2, Response(3) + Response(4)).ok());
  EXPECT_EQ(conn.TakeClientOutput(), Response(3) + Response(4));
  // Upstream 1 is gone: its bytes are refused without ending the connection.
  EXPECT_THAT(conn.OnUpstreamBytes(1, Response(9)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("upstream 1 sent 17 bytes but is retired")));
  EXPECT_TRUE(conn.OnClientBytes(Metadata(5)).ok());
}

TEST_F(RelayConnTest, HoldLimitStopsReadingTheClient) {
  RelayConn::Options options;
  options.hold_limit = 2 * Fetch(0).size();
  RelayConn conn(1, kNotAfter1, clock_, options);
  ASSERT_TRUE(conn.OnClientBytes(Produce(1, -1)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  ASSERT_TRUE(conn.OnClientBytes(Fetch(2)).ok());
  EXPECT_TRUE(conn.WantClientBytes());
  ASSERT_TRUE(conn.OnClientBytes(Fetch(3)).ok());
  EXPECT_FALSE(conn.WantClientBytes());
  ASSERT_TRUE(conn.OnUpstreamBytes(1, Response(1)).ok());
  EXPECT_TRUE(conn.WantClientBytes());
}

TEST_F(RelayConnTest, OverlapAfterTheDrainTimeWhenOnlyFetchesPend) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Fetch(1)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(1), Fetch(1));
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  ASSERT_TRUE(conn.OnClientBytes(Produce(2, -1)).ok());
  EXPECT_EQ(conn.NextTickIn(), absl::Milliseconds(200));
  clock_.Advance(absl::Milliseconds(199));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kOverlap);
  EXPECT_EQ(conn.counters().overlaps, 1u);
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Produce(2, -1));
  ASSERT_TRUE(conn.OnClientBytes(Metadata(3)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Metadata(3));
  EXPECT_EQ(conn.TakeUpstreamOutput(1), "");

  // Upstream 2 starts a response; upstream 1's whole response waits for it
  // to end, so the client sees whole frames only.
  const std::string r2 = Response(2);
  ASSERT_TRUE(conn.OnUpstreamBytes(2, r2.substr(0, 6)).ok());
  ASSERT_TRUE(conn.OnUpstreamBytes(1, Response(1)).ok());
  EXPECT_EQ(conn.TakeClientOutput(), r2.substr(0, 6));
  EXPECT_EQ(conn.state(), State::kOverlap);
  ASSERT_TRUE(conn.OnUpstreamBytes(2, r2.substr(6)).ok());
  EXPECT_EQ(conn.TakeClientOutput(), r2.substr(6) + Response(1));
  EXPECT_EQ(conn.state(), State::kActive);
  EXPECT_EQ(conn.current(), 2u);
  EXPECT_THAT(conn.InFlight(2), ElementsAre(3));
}

TEST_F(RelayConnTest, NoTimedOverlapWhileAProducePends) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Fetch(1) + Produce(2, 1)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  EXPECT_EQ(conn.counters().overlaps, 0u);
}

TEST_F(RelayConnTest, NoTimedOverlapWhileARequestIsHalfWritten) {
  RelayConn conn(1, kNotAfter1, clock_);
  const std::string p = Produce(1, -1);
  // Not even the header: nothing is awaited yet, but it is a Produce.
  ASSERT_TRUE(conn.OnClientBytes(p.substr(0, 6)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  ASSERT_TRUE(conn.OnClientBytes(p.substr(6)).ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  EXPECT_THAT(conn.InFlight(1), ElementsAre(1));
}

TEST_F(RelayConnTest, DeadlineForcesOverlap) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Produce(1, -1)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  ASSERT_TRUE(conn.OnClientBytes(Produce(2, -1)).ok());
  clock_.SetTime(kNotAfter1 - absl::Seconds(1) - absl::Milliseconds(1));
  EXPECT_EQ(conn.NextTickIn(), absl::Milliseconds(1));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kDraining);
  clock_.SetTime(kNotAfter1 - absl::Seconds(1));
  ASSERT_TRUE(conn.Tick().ok());
  EXPECT_EQ(conn.state(), State::kOverlap);
  EXPECT_EQ(conn.counters().forced_overlaps, 1u);
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Produce(2, -1));
}

TEST_F(RelayConnTest, NoRequestStartsOnAnUpstreamPastItsDeadline) {
  RelayConn conn(1, kNotAfter1, clock_);
  clock_.SetTime(kNotAfter1 - absl::Seconds(1));
  ASSERT_TRUE(conn.OnClientBytes(Metadata(1)).ok());
  EXPECT_EQ(conn.TakeUpstreamOutput(1), "");
  EXPECT_EQ(conn.held_bytes(), Metadata(1).size());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  EXPECT_EQ(conn.current(), 2u);
  EXPECT_EQ(conn.TakeUpstreamOutput(2), Metadata(1));
  EXPECT_THAT(conn.InFlight(2), ElementsAre(1));
}

TEST_F(RelayConnTest, ResponseWithAnUnknownCorrelationIdEndsTheConnection) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Metadata(1) + Metadata(2)).ok());
  EXPECT_THAT(conn.OnUpstreamBytes(1, Response(99)),
              InvalidWith("upstream 1 sent a response for correlation id 99, "
                          "which no request in flight there has (expected 1"));
  EXPECT_EQ(conn.TakeClientOutput(), "");
  // Sticky: the connection is over.
  EXPECT_THAT(conn.OnClientBytes(Metadata(3)), InvalidWith("id 99"));
  EXPECT_THAT(conn.Tick(), InvalidWith("id 99"));
}

TEST_F(RelayConnTest, ResponseOutOfOrderEndsTheConnection) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Metadata(1) + Metadata(2)).ok());
  EXPECT_THAT(conn.OnUpstreamBytes(1, Response(2)),
              InvalidWith("correlation id 2 out of order (expected 1"));
}

TEST_F(RelayConnTest, NextUpstreamMaySendNothingBeforeRelease) {
  RelayConn conn(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn.OnClientBytes(Metadata(1)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  ASSERT_TRUE(conn.OnClientBytes(Metadata(2)).ok());
  EXPECT_THAT(conn.OnUpstreamBytes(2, Response(2)),
              InvalidWith("upstream 2 sent a response for correlation id 2 "
                          "but no request awaits one there"));
}

TEST_F(RelayConnTest, MalformedFramesEndTheConnection) {
  RelayConn conn(1, kNotAfter1, clock_);
  EXPECT_THAT(conn.OnClientBytes(Unhex("00000002 0000")),
              InvalidWith("request frame: size 2 is below"));
  RelayConn conn2(1, kNotAfter1, clock_);
  ASSERT_TRUE(conn2.OnClientBytes(Metadata(1)).ok());
  EXPECT_THAT(conn2.OnUpstreamBytes(1, Unhex("16030300")),
              InvalidWith("response frame: size 369296128 is above the cap"));
}

TEST_F(RelayConnTest, SwitchMisuse) {
  RelayConn conn(1, kNotAfter1, clock_);
  EXPECT_THAT(conn.BeginSwitch(1, kNotAfter2),
              InvalidWith("upstream id 1 is not above the current 1"));
  ASSERT_TRUE(conn.OnClientBytes(Metadata(1)).ok());
  ASSERT_TRUE(conn.BeginSwitch(2, kNotAfter2).ok());
  EXPECT_THAT(conn.BeginSwitch(3, kNotAfter2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the switch to 2 is still under way")));
}

}  // namespace
}  // namespace mayfly::kafka::internal
