// The caller table: fd numbers gRPC reuses, and the per-caller limits under
// a fake clock. The connections are real socketpairs, so SO_PEERCRED and the
// process pin see this test process.
#include "identity/agent/callers.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

// One end of a socketpair stands for the agent's accepted connection.
class Connection {
 public:
  Connection() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_ = fds[0];
    client_ = fds[1];
  }
  ~Connection() { Close(); }
  void Close() {
    if (server_ >= 0) close(server_);
    if (client_ >= 0) close(client_);
    server_ = client_ = -1;
  }
  int fd() const { return server_; }
  int client_fd() const { return client_; }
  std::string peer() const { return "fd:" + std::to_string(server_); }

 private:
  int server_ = -1;
  int client_ = -1;
};

class CallerTableTest : public ::testing::Test {
 protected:
  identity::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

TEST_F(CallerTableTest, LooksUpTheKernelsViewOfTheCaller) {
  CallerTable table(CallerLimits{}, clock_);
  Connection conn;
  ASSERT_TRUE(table.Add(conn.fd()).ok());
  absl::StatusOr<Caller> caller = table.Lookup(conn.peer());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->peer.pid, getpid());
  EXPECT_EQ(caller->peer.uid, geteuid());
  EXPECT_EQ(caller->peer.gid, getegid());
}

TEST_F(CallerTableTest, RefusesPeersItDidNotAccept) {
  CallerTable table(CallerLimits{}, clock_);
  EXPECT_THAT(table.Lookup("unix:/run/x.sock"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("unknown connection")));
  Connection never_added;
  EXPECT_THAT(
      table.Lookup(never_added.peer()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection closed")));
}

TEST_F(CallerTableTest, AReusedFdNumberDoesNotInheritTheOldCaller) {
  CallerTable table(CallerLimits{}, clock_);
  auto first = std::make_unique<Connection>();
  const int number = first->fd();
  ASSERT_TRUE(table.Add(number).ok());
  first->Close();
  // The kernel hands out the lowest free number: the same one, a new socket.
  Connection second;
  ASSERT_EQ(second.fd(), number);
  EXPECT_THAT(
      table.Lookup(second.peer()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection closed")));
  ASSERT_TRUE(table.Add(second.fd()).ok());
  EXPECT_TRUE(table.Lookup(second.peer()).ok());
}

TEST_F(CallerTableTest, CapsConnectionsAndReapsClosedOnes) {
  CallerLimits limits;
  limits.max_connections = 2;
  CallerTable table(limits, clock_);
  Connection a, b, c;
  ASSERT_TRUE(table.Add(a.fd()).ok());
  ASSERT_TRUE(table.Add(b.fd()).ok());
  EXPECT_THAT(table.Add(c.fd()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("connection cap reached (2)")));
  a.Close();
  EXPECT_TRUE(table.Add(c.fd()).ok());
  EXPECT_EQ(table.Reap(), 2);
}

TEST_F(CallerTableTest, RateLimitsRequestsPerProcess) {
  CallerLimits limits;
  limits.requests_per_second = 2;
  limits.request_burst = 3;
  CallerTable table(limits, clock_);
  Connection conn;
  ASSERT_TRUE(table.Add(conn.fd()).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(table.Lookup(conn.peer()).ok()) << "request " << i;
  }
  EXPECT_THAT(table.Lookup(conn.peer()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("request rate limit (2/s)")));
  clock_.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(table.Lookup(conn.peer()).ok());
  clock_.Advance(absl::Milliseconds(2));
  EXPECT_TRUE(table.Lookup(conn.peer()).ok());
  // A second connection from the same process shares the bucket.
  Connection other;
  ASSERT_TRUE(table.Add(other.fd()).ok());
  EXPECT_FALSE(table.Lookup(other.peer()).ok());
  // Idle time refills to the burst, no further.
  clock_.Advance(absl::Hours(1));
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += table.Lookup(conn.peer()).ok();
  EXPECT_EQ(allowed, 3);
}

TEST_F(CallerTableTest, AWallClockStepNeitherFreezesNorFloodsTheBucket) {
  CallerLimits limits;
  limits.requests_per_second = 2;
  limits.request_burst = 1;
  CallerTable table(limits, clock_);
  Connection conn;
  ASSERT_TRUE(table.Add(conn.fd()).ok());
  ASSERT_TRUE(table.Lookup(conn.peer()).ok());
  // NTP or an operator steps the wall clock back an hour: half a second
  // later the bucket has refilled all the same.
  clock_.SetTime(clock_.Now() - absl::Hours(1));
  clock_.Advance(absl::Milliseconds(501));
  EXPECT_TRUE(table.Lookup(conn.peer()).ok());
  // A step forward hands out nothing extra.
  clock_.SetTime(clock_.Now() + absl::Hours(2));
  EXPECT_THAT(table.Lookup(conn.peer()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("request rate limit")));
}

// A caller from process `pid` on no recorded connection.
Caller ProcessCaller(pid_t pid) {
  Caller caller;
  caller.peer.pid = pid;
  return caller;
}

TEST_F(CallerTableTest, CapsStreamsPerProcess) {
  CallerLimits limits;
  limits.max_streams_per_caller = 2;
  CallerTable table(limits, clock_);
  EXPECT_TRUE(table.OpenStream(ProcessCaller(42)).ok());
  EXPECT_TRUE(table.OpenStream(ProcessCaller(42)).ok());
  EXPECT_THAT(table.OpenStream(ProcessCaller(42)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("pid 42 already has 2 streams open (cap 2)")));
  EXPECT_TRUE(table.OpenStream(ProcessCaller(43)).ok())
      << "another process is not capped";
  table.CloseStream(ProcessCaller(42));
  EXPECT_TRUE(table.OpenStream(ProcessCaller(42)).ok());
}

TEST_F(CallerTableTest, CapsConnectionsPerUid) {
  CallerLimits limits;
  limits.max_connections_per_uid = 2;
  CallerTable table(limits, clock_);
  Connection a, b, c;
  ASSERT_TRUE(table.Add(a.fd()).ok());
  ASSERT_TRUE(table.Add(b.fd()).ok());
  EXPECT_THAT(table.Add(c.fd()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr(absl::StrCat("uid ", geteuid(),
                                              " already has 2 connections"))));
  // A closed connection frees its slot.
  a.Close();
  EXPECT_TRUE(table.Add(c.fd()).ok());
}

// True once the peer sees end-of-file: the agent shut the connection down.
bool ShutDown(int client_fd) {
  char byte;
  return recv(client_fd, &byte, 1, MSG_DONTWAIT) == 0;
}

TEST_F(CallerTableTest, ClosesConnectionsIdlePastTheTimeout) {
  CallerLimits limits;
  limits.idle_timeout = absl::Seconds(60);
  limits.max_connections_per_uid = 2;
  CallerTable table(limits, clock_);
  Connection silent, calling;
  ASSERT_TRUE(table.Add(silent.fd()).ok());
  ASSERT_TRUE(table.Add(calling.fd()).ok());
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(table.Lookup(calling.peer()).ok());  // a call: activity
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(table.CloseIdle(), 0);
  EXPECT_FALSE(ShutDown(silent.client_fd()));

  // The connection that never sent anything goes at 60 s; the other one
  // had a call 30 s in, so it stays until 90 s.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(table.CloseIdle(), 1);
  EXPECT_TRUE(ShutDown(silent.client_fd()));
  EXPECT_FALSE(ShutDown(calling.client_fd()));
  EXPECT_THAT(
      table.Lookup(silent.peer()),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection closed")));
  // Its slot in the uid's cap is free again.
  Connection next;
  EXPECT_TRUE(table.Add(next.fd()).ok());

  // A wall-clock step is not time passing.
  clock_.SetTime(clock_.Now() + absl::Hours(24));
  EXPECT_EQ(table.CloseIdle(), 0);
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(table.CloseIdle(), 1);
  EXPECT_TRUE(ShutDown(calling.client_fd()));
}

TEST_F(CallerTableTest, AConnectionWithAStreamOpenIsNeverIdle) {
  CallerLimits limits;
  limits.idle_timeout = absl::Seconds(60);
  CallerTable table(limits, clock_);
  Connection conn;
  ASSERT_TRUE(table.Add(conn.fd()).ok());
  absl::StatusOr<Caller> caller = table.Lookup(conn.peer());
  ASSERT_TRUE(caller.ok()) << caller.status();
  ASSERT_TRUE(table.OpenStream(*caller).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(table.CloseIdle(), 0);
  EXPECT_FALSE(ShutDown(conn.client_fd()));
  // The idle clock starts when the stream ends.
  table.CloseStream(*caller);
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(table.CloseIdle(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(table.CloseIdle(), 1);
  EXPECT_TRUE(ShutDown(conn.client_fd()));
}

}  // namespace
}  // namespace mayfly::agent
