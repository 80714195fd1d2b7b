// Endpoint resolution (flag, SPIFFE_ENDPOINT_SOCKET, the accepted address
// forms), the checks made on a Workload API response, and call deadlines
// taken from the injected clock.
#include "identity/workload/client.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/workload/fake_agent.h"

namespace mayfly::identity::workload {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

TEST(ResolveEndpointTest, AcceptedForms) {
  EXPECT_EQ(*ResolveEndpoint("unix:///run/a.sock"), "unix:/run/a.sock");
  EXPECT_EQ(*ResolveEndpoint("unix:/run/a.sock"), "unix:/run/a.sock");
  EXPECT_EQ(*ResolveEndpoint("/run/a.sock"), "unix:/run/a.sock");
}

TEST(ResolveEndpointTest, RefusedForms) {
  EXPECT_THAT(
      ResolveEndpoint("unix://host/run/a.sock"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no host")));
  EXPECT_THAT(
      ResolveEndpoint("tcp://127.0.0.1:1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only unix:")));
  EXPECT_THAT(
      ResolveEndpoint("run/a.sock"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute")));
  EXPECT_THAT(
      ResolveEndpoint("unix:///a.sock?x=1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no query")));
}

TEST(ResolveEndpointTest, EnvironmentWhenNoFlag) {
  unsetenv(kEndpointEnv);
  EXPECT_THAT(ResolveEndpoint(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("SPIFFE_ENDPOINT_SOCKET")));
  setenv(kEndpointEnv, "unix:///env.sock", 1);
  EXPECT_EQ(*ResolveEndpoint(""), "unix:/env.sock");
  // The flag wins.
  EXPECT_EQ(*ResolveEndpoint("/flag.sock"), "unix:/flag.sock");
  setenv(kEndpointEnv, "relative.sock", 1);
  EXPECT_THAT(ResolveEndpoint(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("SPIFFE_ENDPOINT_SOCKET \"relative.sock\"")));
}

TEST(ParseX509ResponseTest, RefusesWhatDoesNotHoldTogether) {
  X509SVIDResponse empty;
  EXPECT_THAT(
      ParseX509Response(empty),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no SVID")));
  X509SVIDResponse bad_id;
  bad_id.add_svids()->set_spiffe_id("https://example.org");
  EXPECT_THAT(ParseX509Response(bad_id),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("svids[0].spiffe_id")));
  X509SVIDResponse bad_chain;
  auto* svid = bad_chain.add_svids();
  svid->set_spiffe_id("spiffe://example.org/a");
  svid->set_x509_svid("not DER");
  EXPECT_THAT(ParseX509Response(bad_chain),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("svids[0].x509_svid")));
}

// gRPC deadlines are wall-clock times: they must come from the client's
// Clock, not the system's. A clock in 1970 puts a 10 s deadline decades in
// the past, so the call fails at once although the agent would answer.
TEST(WorkloadClientTest, DeadlineComesFromTheInjectedClock) {
  absl::StatusOr<std::unique_ptr<FakeAgent>> agent = FakeAgent::Start();
  ASSERT_TRUE(agent.ok()) << agent.status();
  // Twice, in case the first call reached the agent before its deadline
  // was noticed and used up the first script.
  (*agent)->End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "answered"));
  (*agent)->NextStream();
  (*agent)->End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "answered"));
  FakeClock long_ago(absl::FromUnixSeconds(1000));
  absl::StatusOr<std::unique_ptr<WorkloadClient>> client =
      WorkloadClient::Create((*agent)->endpoint(), long_ago);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_THAT((*client)->FetchX509Context(absl::Seconds(10)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("Deadline Exceeded")));
  // The same call with the clock at the real time reaches the agent.
  FakeClock now(absl::Now());
  client = WorkloadClient::Create((*agent)->endpoint(), now);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_THAT(
      (*client)->FetchX509Context(absl::Seconds(10)),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("answered")));
}

}  // namespace
}  // namespace mayfly::identity::workload
