// One connection of the fake broker: see fake_broker_session.h. Everything
// is non-blocking and waits in poll() together with the broker's stop pipe,
// so Stop() ends every session promptly.
#include "kafka/client/testing/fake_broker_session.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kafka/client/testing/test_io.h"

namespace mayfly::kafka {
namespace {

using identity::UniqueFd;

// Bytes of one read; a Kafka request of any test fits in a few of them.
constexpr int kReadChunk = 16384;
// Reads per wake-up before the other side gets a turn.
constexpr int kReadsPerWake = 64;
// Bytes buffered toward one side before the other side stops being read.
constexpr size_t kMaxBuffered = 1 << 20;

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

}  // namespace

void FakeBroker::Session::Run() {
  // OpenSSL's socket BIO writes with write(2): a client that went away must
  // not end the test binary with SIGPIPE. Blocked on this thread only.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  Step end = Handshake();
  if (end.close == FakeBrokerClose::kOpen) {
    end = broker_.options_.mode == FakeBrokerMode::kForward ? Forward()
                                                            : Scripted();
  }
  if (end.close != FakeBrokerClose::kHandshakeFailed &&
      end.close != FakeBrokerClose::kClientClosed &&
      end.close != FakeBrokerClose::kError) {
    SSL_shutdown(ssl_.get());  // close_notify, once, not waiting for theirs
  }
  ERR_clear_error();
  ssl_.reset();
  fd_.reset();  // closed before anyone is told it is
  absl::MutexLock lock(&broker_.mu_);
  FakeBrokerConnection& record = broker_.records_[index_];
  record.close = end.close;
  if (record.error.empty()) record.error = std::move(end.error);
  if (end.close == FakeBrokerClose::kHandshakeFailed) {
    ++broker_.handshakes_failed_;
  }
  if (end.close == FakeBrokerClose::kExpired) ++broker_.expired_closes_;
  if (end.close == FakeBrokerClose::kRefused) ++broker_.refused_clients_;
  ++broker_.closed_;
}

FakeBroker::Session::Step FakeBroker::Session::Handshake() {
  ssl_.reset(SSL_new(ctx_.get()));
  if (ssl_ == nullptr || !SetNonBlocking(fd_.get()) ||
      SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
    return {FakeBrokerClose::kError, identity::DrainOpenSslErrors()};
  }
  // Read by VerifyClient to find this connection's record.
  SSL_set_app_data(ssl_.get(), reinterpret_cast<void*>(intptr_t{index_}));
  const absl::Duration deadline =
      identity::RealClock().Monotonic() + broker_.options_.io_timeout;
  for (;;) {
    const int rc = SSL_accept(ssl_.get());
    if (rc == 1) break;
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return {FakeBrokerClose::kHandshakeFailed,
              identity::DrainOpenSslErrors()};
    }
    const Wait wait =
        WaitFor(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                deadline - identity::RealClock().Monotonic());
    if (wait == Wait::kStop) return {FakeBrokerClose::kStopped, ""};
    if (wait == Wait::kTimeout) {
      return {FakeBrokerClose::kHandshakeFailed, "handshake timed out"};
    }
  }
  const char* sni = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  absl::MutexLock lock(&broker_.mu_);
  FakeBrokerConnection& record = broker_.records_[index_];
  record.handshake_ok = true;
  record.sni = sni == nullptr ? "" : sni;
  not_after_ = record.client_not_after;
  if (broker_.refused_ids_.count(record.client_id) != 0) {
    return {FakeBrokerClose::kRefused, ""};
  }
  return {};
}

FakeBroker::Session::Wait FakeBroker::Session::WaitFor(int fd, short events,
                                                       absl::Duration timeout) {
  pollfd fds[2] = {{fd, events, 0}, {broker_.stop_read_.get(), POLLIN, 0}};
  const int ms = timeout == absl::InfiniteDuration()
                     ? -1
                     : static_cast<int>(std::max<int64_t>(
                           0, absl::ToInt64Milliseconds(timeout)));
  const int n = poll(fds, 2, ms);
  if (fds[1].revents != 0) return Wait::kStop;
  return n > 0 ? Wait::kReady : Wait::kTimeout;
}

bool FakeBroker::Session::ExpiredNow() {
  if (broker_.clock_.Now() < not_after_) return false;
  // Like the broker plugin, which judges what it unwraps: a bare end of
  // stream (no TLS record left) is an ordinary disconnect, not a use of the
  // expired certificate.
  char byte;
  return SSL_has_pending(ssl_.get()) == 1 ||
         ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
}

FakeBroker::Session::Step FakeBroker::Session::ReadClient(std::string& out) {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerWake; ++i) {
    const int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n > 0) {
      out.append(buf, n);
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) {
      return {FakeBrokerClose::kClientClosed, ""};
    }
    return {FakeBrokerClose::kError,
            absl::StrCat("TLS read: ", identity::DrainOpenSslErrors())};
  }
  return {};
}

FakeBroker::Session::Step FakeBroker::Session::WriteClientNow(
    std::string& data, bool& want_write) {
  want_write = false;
  while (!data.empty()) {
    int n = 0;
    {
      // Counted before the client can see the bytes: a test that read them
      // reads the count too.
      absl::MutexLock lock(&broker_.mu_);
      n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
      if (n > 0) {
        broker_.records_[index_].bytes_to_client += n;
        if (broker_.options_.mode == FakeBrokerMode::kForward) {
          broker_.bytes_forwarded_ += n;
        }
      }
    }
    if (n > 0) {
      data.erase(0, n);
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      want_write = true;
      return {};
    }
    return {FakeBrokerClose::kClientClosed,
            absl::StrCat("TLS write: ", identity::DrainOpenSslErrors())};
  }
  return {};
}

FakeBroker::Session::Step FakeBroker::Session::WriteClientAll(
    std::string data) {
  while (!data.empty()) {
    bool want_write = false;
    Step step = WriteClientNow(data, want_write);
    if (step.close != FakeBrokerClose::kOpen || !want_write) return step;
    const Wait wait =
        WaitFor(fd_.get(), POLLOUT | POLLIN, broker_.options_.io_timeout);
    if (wait == Wait::kStop) return {FakeBrokerClose::kStopped, ""};
    if (wait == Wait::kTimeout) {
      return {FakeBrokerClose::kError, "the client takes no more bytes"};
    }
  }
  return {};
}

FakeBroker::Session::Step FakeBroker::Session::SendUpstreamNow(
    int fd, std::string& data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    if (errno == EINTR) continue;
    return {FakeBrokerClose::kUpstreamClosed,
            absl::StrCat("upstream send: ", strerror(errno))};
  }
  return {};
}

FakeBroker::Session::Step FakeBroker::Session::SendUpstream(int fd,
                                                            std::string& data) {
  // Counted before the upstream can see the bytes, as toward the client.
  absl::MutexLock lock(&broker_.mu_);
  const size_t before = data.size();
  Step step = SendUpstreamNow(fd, data);
  broker_.bytes_forwarded_ += before - data.size();
  return step;
}

FakeBroker::Session::Step FakeBroker::Session::RecvUpstreamNow(int fd,
                                                               std::string& out,
                                                               bool& eof) {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerWake; ++i) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      return {};
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    if (errno == EINTR) continue;
    return {FakeBrokerClose::kUpstreamClosed,
            absl::StrCat("upstream recv: ", strerror(errno))};
  }
  return {};
}

FakeBroker::Session::Step FakeBroker::Session::Forward() {
  absl::StatusOr<UniqueFd> up = test_io::ConnectTcp(broker_.options_.upstream);
  if (!up.ok() || !SetNonBlocking(up->get())) {
    return {FakeBrokerClose::kError,
            absl::StrCat("upstream: ", up.status().ToString())};
  }
  std::string to_upstream, to_client;
  bool upstream_eof = false;
  bool client_blocked = false;
  for (;;) {
    Step step = SendUpstream(up->get(), to_upstream);
    if (step.close != FakeBrokerClose::kOpen) return step;
    step = WriteClientNow(to_client, client_blocked);
    if (step.close != FakeBrokerClose::kOpen) return step;
    if (upstream_eof && to_client.empty()) {
      return {FakeBrokerClose::kUpstreamClosed, ""};
    }
    const bool buffered = !to_upstream.empty() || !to_client.empty();
    pollfd fds[3] = {
        {broker_.stop_read_.get(), POLLIN, 0},
        {fd_.get(),
         static_cast<short>((to_upstream.size() < kMaxBuffered ? POLLIN : 0) |
                            (client_blocked ? POLLOUT : 0)),
         0},
        {up->get(),
         static_cast<short>(
             (!upstream_eof && to_client.size() < kMaxBuffered ? POLLIN : 0) |
             (to_upstream.empty() ? 0 : POLLOUT)),
         0}};
    const bool pending = SSL_has_pending(ssl_.get()) == 1;
    const int timeout_ms =
        pending    ? 0
        : buffered ? static_cast<int>(
                         absl::ToInt64Milliseconds(broker_.options_.io_timeout))
                   : -1;
    const int n = poll(fds, 3, timeout_ms);
    if (fds[0].revents != 0) return {FakeBrokerClose::kStopped, ""};
    if (n == 0 && !pending) {
      return {FakeBrokerClose::kError, "forwarding stalled"};
    }
    if (pending || (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (ExpiredNow()) return {FakeBrokerClose::kExpired, ""};
      const size_t had = to_upstream.size();
      step = ReadClient(to_upstream);
      {
        absl::MutexLock lock(&broker_.mu_);
        broker_.records_[index_].bytes_from_client += to_upstream.size() - had;
      }
      // What arrived before the close still goes on.
      if (step.close != FakeBrokerClose::kOpen) {
        SendUpstream(up->get(), to_upstream);
        return step;
      }
    }
    if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      step = RecvUpstreamNow(up->get(), to_client, upstream_eof);
      if (step.close != FakeBrokerClose::kOpen) return step;
    }
  }
}

FakeBroker::Session::Step FakeBroker::Session::Scripted() {
  for (;;) {
    if (SSL_has_pending(ssl_.get()) != 1) {
      const Wait wait = WaitFor(fd_.get(), POLLIN, absl::InfiniteDuration());
      if (wait != Wait::kReady) return {FakeBrokerClose::kStopped, ""};
    }
    if (ExpiredNow()) return {FakeBrokerClose::kExpired, ""};
    std::string chunk;
    Step step = ReadClient(chunk);
    if (step.close != FakeBrokerClose::kOpen) return step;
    if (chunk.empty()) continue;  // a record without application data
    FakeBrokerConnection record;
    {
      absl::MutexLock lock(&broker_.mu_);
      FakeBrokerConnection& r = broker_.records_[index_];
      r.received += chunk;
      r.bytes_from_client += chunk.size();
      record = r;
    }
    ScriptedReply reply = broker_.options_.script
                              ? broker_.options_.script(record, chunk)
                              : ScriptedReply{chunk, false};
    step = WriteClientAll(std::move(reply.bytes));
    if (step.close != FakeBrokerClose::kOpen) return step;
    if (reply.close) return {FakeBrokerClose::kScriptDone, ""};
  }
}

}  // namespace mayfly::kafka
