// One connection of the fake broker (fake_broker.h), served on its own
// thread: the handshake, the refusal and expiry rules, then forwarding or the
// script. Private to fake_broker.{h,cc}.
#ifndef MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_SESSION_H_
#define MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_SESSION_H_

#include <openssl/ssl.h>
#include <poll.h>

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/openssl_util.h"
#include "identity/unique_fd.h"
#include "kafka/client/testing/fake_broker.h"

namespace mayfly::kafka {

class FakeBroker::Session {
 public:
  Session(FakeBroker& broker, int index, identity::UniqueFd fd, SharedCtx ctx)
      : broker_(broker), index_(index), fd_(std::move(fd)), ctx_(ctx) {}

  // Serves the connection to its end, closes it, records why.
  void Run();

 private:
  enum class Wait { kReady, kStop, kTimeout };
  // How one side of a non-blocking step went.
  struct Step {
    FakeBrokerClose close = FakeBrokerClose::kOpen;  // kOpen: go on
    std::string error;
  };

  Step Handshake();
  Step Forward();
  Step Scripted();
  // Waits for `events` on `fd` (and for Stop()), at most `timeout`.
  Wait WaitFor(int fd, short events, absl::Duration timeout);
  // Like the plugin: a read after the client's NotAfter closes instead.
  bool ExpiredNow();
  // Appends what can be read now (at most a bounded number of records).
  Step ReadClient(std::string& out);
  // Writes what the client takes now; erases it from `data`.
  Step WriteClientNow(std::string& data, bool& want_write);
  // Writes all of `data`, waiting at most io_timeout without progress.
  Step WriteClientAll(std::string data);
  static Step SendUpstreamNow(int fd, std::string& data);
  // SendUpstreamNow, counted in bytes_forwarded.
  Step SendUpstream(int fd, std::string& data);
  static Step RecvUpstreamNow(int fd, std::string& out, bool& eof);

  FakeBroker& broker_;
  const int index_;
  identity::UniqueFd fd_;
  const SharedCtx ctx_;
  identity::OpenSslPtr<SSL, SSL_free> ssl_;
  absl::Time not_after_ = absl::InfinitePast();
};

}  // namespace mayfly::kafka

#endif  // MAYFLY_KAFKA_CLIENT_TESTING_FAKE_BROKER_SESSION_H_
