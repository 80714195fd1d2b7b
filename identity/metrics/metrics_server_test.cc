// The shared Prometheus endpoint: the sample format, timestamps, the
// loopback-only address rule, and one real scrape over TCP.
#include "identity/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/metrics/testing/sample_value.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::metrics {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(PrometheusMetricTest, WritesHelpTypeAndSample) {
  EXPECT_EQ(PrometheusMetric("x_total", "counter", "Things.", 3),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n");
}

TEST(SampleValueTest, ReadsBackWhatPrometheusMetricWrote) {
  const std::string text = "x 1\n" + PrometheusMetric("y", "gauge", "Y.", 2.5);
  EXPECT_EQ(testing::SampleValue(text, "y"), 2.5);
  EXPECT_EQ(testing::SampleValue(text, "z"), -1);
}

TEST(TimestampSecondsTest, UnixSecondsAndZeroForNone) {
  EXPECT_EQ(TimestampSeconds(absl::FromUnixSeconds(1800000000)), 1800000000);
  EXPECT_EQ(TimestampSeconds(absl::FromUnixMillis(1500)), 1.5);
  EXPECT_EQ(TimestampSeconds(absl::InfiniteFuture()), 0);
  EXPECT_EQ(TimestampSeconds(absl::InfinitePast()), 0);
}

TEST(ParseLoopbackAddressTest, LoopbackOnly) {
  EXPECT_TRUE(ParseLoopbackAddress("127.0.0.2:0").ok());
  EXPECT_THAT(ParseLoopbackAddress("0.0.0.0:9"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be a 127.x.x.x address")));
  EXPECT_THAT(ParseLoopbackAddress("127.0.0.1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("want HOST:PORT")));
}

TEST(CheckMetricsAddressTest, EmptyOrLoopback) {
  EXPECT_TRUE(CheckMetricsAddress("").ok());
  EXPECT_TRUE(CheckMetricsAddress("127.0.0.1:9988").ok());
  EXPECT_THAT(CheckMetricsAddress("10.0.0.1:9988"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("want 127.x.x.x:PORT")));
}

std::string Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[512];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, n);
  close(fd);
  return response;
}

TEST(MetricsServerTest, ServesTheRenderedTextOnMetricsOnly) {
  int renders = 0;
  auto server = MetricsServer::Start("127.0.0.1:0", [&renders] {
    ++renders;
    return std::string("a 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string ok = Get((*server)->port(), "/metrics");
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(ok, HasSubstr("Content-Length: 4\r\n"));
  EXPECT_THAT(ok, EndsWith("\r\n\r\na 1\n"));
  EXPECT_THAT(Get((*server)->port(), "/other"),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_EQ(renders, 1);
}

}  // namespace
}  // namespace mayfly::metrics
