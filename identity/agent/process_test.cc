// ProcessRef against real processes: this one, and children that connect to
// a real listening socket and then live on, exit, or exit unreaped.
#include "identity/agent/process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

class ProcessRefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp: Bazel's TEST_TMPDIR is longer than a socket path may be.
    char dir[] = "/tmp/process_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/s";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_un addr = Address();
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
              0)
        << std::strerror(errno);
    ASSERT_EQ(listen(listener_, 8), 0);
  }
  void TearDown() override {
    close(listener_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  sockaddr_un Address() const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    return addr;
  }

  // A child that connects, tells us over a pipe, then waits to be killed.
  // Returns its pid; the connection waits in the listener's queue.
  pid_t SpawnConnectedChild() {
    int ready[2];
    EXPECT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    if (child == 0) {
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr = Address();
      const bool ok =
          connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      const char byte = ok ? '1' : '0';
      if (write(ready[1], &byte, 1) != 1) _exit(1);
      pause();
      _exit(0);
    }
    close(ready[1]);
    char byte = 0;
    EXPECT_EQ(read(ready[0], &byte, 1), 1);
    EXPECT_EQ(byte, '1');
    close(ready[0]);
    return child;
  }

  std::string dir_;
  std::string path_;
  int listener_ = -1;
};

bool KernelHasPeerPidfd() {
  utsname u;
  int major = 0, minor = 0;
  return uname(&u) == 0 &&
         std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 5));
}

TEST_F(ProcessRefTest, PinsTheConnectingProcess) {
  const pid_t child = SpawnConnectedChild();
  const int conn = accept(listener_, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  absl::StatusOr<PeerCredentials> peer = GetPeerCredentials(conn);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->pid, child);
  EXPECT_EQ(peer->uid, geteuid());

  absl::StatusOr<std::unique_ptr<ProcessRef>> ref =
      ProcessRef::OpenPeer(conn, peer->pid);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ((*ref)->pid(), child);
  if (KernelHasPeerPidfd()) EXPECT_TRUE((*ref)->pinned_at_connect());
  EXPECT_TRUE((*ref)->CheckAlive().ok());

  // Exited but not yet reaped: a zombie is not a caller.
  kill(child, SIGKILL);
  siginfo_t info;
  ASSERT_EQ(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
  EXPECT_THAT((*ref)->CheckAlive(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("exited")));
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_THAT((*ref)->CheckAlive(), StatusIs(absl::StatusCode::kNotFound,
                                             HasSubstr(std::to_string(child))));
  close(conn);
}

TEST_F(ProcessRefTest, RefusesACallerThatExitedBeforeAccept) {
  const pid_t child = SpawnConnectedChild();
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const int conn = accept(listener_, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  absl::StatusOr<PeerCredentials> peer = GetPeerCredentials(conn);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->pid, child);
  EXPECT_THAT(
      ProcessRef::OpenPeer(conn, peer->pid),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr(std::to_string(child))));
  close(conn);
}

// Well above the watcher's reaction time (an epoll wake-up, or one
// kFallbackCheckInterval without pidfds), well below a test timeout.
constexpr absl::Duration kExitNoticeDeadline = absl::Seconds(5);

TEST_F(ProcessRefTest, ExitWatcherFiresWhenTheProcessExits) {
  absl::StatusOr<std::unique_ptr<ExitWatcher>> watcher = ExitWatcher::Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  const pid_t child = SpawnConnectedChild();
  const pid_t other = SpawnConnectedChild();
  const int conn = accept(listener_, nullptr, nullptr);
  const int other_conn = accept(listener_, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  ASSERT_GE(other_conn, 0);
  absl::StatusOr<std::unique_ptr<ProcessRef>> ref =
      ProcessRef::OpenPeer(conn, child);
  absl::StatusOr<std::unique_ptr<ProcessRef>> other_ref =
      ProcessRef::OpenPeer(other_conn, other);
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_TRUE(other_ref.ok()) << other_ref.status();
  std::shared_ptr<const ProcessRef> process = *std::move(ref);

  absl::Notification first, second, cancelled, others;
  (*watcher)->Watch(process, [&] { first.Notify(); });
  (*watcher)->Watch(process, [&] { second.Notify(); });
  const ExitWatcher::WatchId id =
      (*watcher)->Watch(process, [&] { cancelled.Notify(); });
  (*watcher)->Watch(*std::move(other_ref), [&] { others.Notify(); });
  (*watcher)->Cancel(id);
  EXPECT_EQ((*watcher)->size(), 3);
  EXPECT_FALSE(first.HasBeenNotified()) << "fired while the child lives";

  kill(child, SIGKILL);
  EXPECT_TRUE(first.WaitForNotificationWithTimeout(kExitNoticeDeadline));
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(kExitNoticeDeadline));
  EXPECT_FALSE(cancelled.HasBeenNotified());
  EXPECT_FALSE(others.HasBeenNotified()) << "another process's watch fired";
  EXPECT_EQ((*watcher)->size(), 1);

  // A process that is gone already is reported at once.
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  absl::Notification late;
  (*watcher)->Watch(process, [&] { late.Notify(); });
  EXPECT_TRUE(late.WaitForNotificationWithTimeout(kExitNoticeDeadline));

  kill(other, SIGKILL);
  EXPECT_TRUE(others.WaitForNotificationWithTimeout(kExitNoticeDeadline));
  ASSERT_EQ(waitpid(other, nullptr, 0), other);
  EXPECT_EQ((*watcher)->size(), 0);
  close(conn);
  close(other_conn);
}

TEST_F(ProcessRefTest, ExitWatcherFallsBackToTheStartTimeWithoutPidfds) {
  absl::StatusOr<std::unique_ptr<ExitWatcher>> watcher = ExitWatcher::Start();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  const pid_t child = SpawnConnectedChild();
  absl::StatusOr<std::unique_ptr<ProcessRef>> ref =
      ProcessRef::OpenWithoutPidfdForTest(child);
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_EQ((*ref)->pidfd(), -1);
  EXPECT_TRUE((*ref)->CheckAlive().ok());
  absl::Notification exited;
  (*watcher)->Watch(*std::move(ref), [&] { exited.Notify(); });
  EXPECT_FALSE(exited.HasBeenNotified()) << "fired while the child lives";
  kill(child, SIGKILL);
  EXPECT_TRUE(exited.WaitForNotificationWithTimeout(kExitNoticeDeadline));
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_EQ((*watcher)->size(), 0);
}

TEST(ProcessStartTimeTest, ReadsThisProcess) {
  absl::StatusOr<uint64_t> start = ProcessStartTime(getpid());
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_GT(*start, 0u);
  EXPECT_THAT(ProcessStartTime(0x3fffffff),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("is gone")));
}

}  // namespace
}  // namespace mayfly::agent
