// The fake broker's life: listener, TLS context, the client check, records
// and Stop(). One connection's serving is in fake_broker_session.cc.
#include "kafka/client/testing/fake_broker.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/openssl_util.h"
#include "identity/x509_verify.h"
#include "kafka/client/testing/fake_broker_session.h"
#include "kafka/client/testing/test_io.h"

namespace mayfly::kafka {

using identity::UniqueFd;

namespace {

std::string SerialHex(X509& cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(&cert);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
      static_cast<size_t>(ASN1_STRING_length(serial))));
}

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeBroker>> FakeBroker::Start(
    const identity::X509Svid& svid, identity::X509Bundle client_bundle,
    FakeBrokerOptions options) {
  if (options.mode == FakeBrokerMode::kForward && options.upstream.empty()) {
    return absl::InvalidArgumentError("forward mode needs an upstream");
  }
  std::unique_ptr<FakeBroker> broker(
      new FakeBroker(std::move(options), std::move(client_bundle)));
  absl::StatusOr<SharedCtx> ctx = broker->MakeContext(svid);
  if (!ctx.ok()) return ctx.status();
  {
    absl::MutexLock lock(&broker->mu_);
    broker->ctx_ = *std::move(ctx);
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe2");
  broker->stop_read_.reset(pipe_fds[0]);
  broker->stop_write_.reset(pipe_fds[1]);
  if (!broker->options_.listen) return broker;

  absl::StatusOr<test_io::Listener> listener = test_io::ListenLoopback();
  if (!listener.ok()) return listener.status();
  broker->port_ = listener->port;
  broker->address_ = listener->address;
  broker->listener_ = std::move(listener->fd);
  FakeBroker* raw = broker.get();
  broker->acceptor_ = std::thread([raw] { raw->AcceptLoop(); });
  return broker;
}

FakeBroker::FakeBroker(FakeBrokerOptions options, identity::X509Bundle bundle)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock
                                       : identity::RealClock()),
      bundle_(std::move(bundle)),
      refused_ids_(options_.refused_ids) {}

FakeBroker::~FakeBroker() { Stop(); }

absl::StatusOr<FakeBroker::SharedCtx> FakeBroker::MakeContext(
    const identity::X509Svid& svid) {
  SharedCtx ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr || svid.chain.empty() ||
      SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate(ctx.get(), svid.chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), svid.key.get()) != 1) {
    return identity::OpenSslError("fake broker: TLS context");
  }
  for (size_t i = 1; i < svid.chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), svid.chain[i].get()) != 1) {
      return identity::OpenSslError("fake broker: chain certificate");
    }
  }
  SSL_CTX_set_verify(
      ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx.get(), &FakeBroker::VerifyClient, this);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // A client gone without close_notify (as librdkafka's sockets are) is a
  // close, not an error (OpenSSL 3).
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

// The client's chain, checked as the plugin does: the repo's VerifyX509Svid
// at the test's clock, against the bundle of the moment.
int FakeBroker::VerifyClient(X509_STORE_CTX* store, void* arg) {
  auto* self = static_cast<FakeBroker*>(arg);
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const int index =
      static_cast<int>(reinterpret_cast<intptr_t>(SSL_get_app_data(ssl)));
  identity::CertChain chain;
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store);
  for (int i = 0; i < sk_X509_num(sent); ++i) {
    chain.push_back(identity::ShareCert(sk_X509_value(sent, i)));
  }
  absl::MutexLock lock(&self->mu_);
  FakeBrokerConnection& record = self->records_[index];
  record.client_chain_length = static_cast<int>(chain.size());
  auto verified =
      identity::VerifyX509Svid(chain, self->bundle_, self->clock_.Now());
  if (!verified.ok()) {
    record.error = verified.status().ToString();
    return 0;
  }
  record.client_id = verified->id.ToString();
  record.client_serial = SerialHex(*chain.front());
  record.client_not_after = verified->expiry;
  return 1;
}

void FakeBroker::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0},
                     {stop_read_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) continue;
    if (!Serve(std::move(fd)).ok()) return;
  }
}

absl::Status FakeBroker::Serve(UniqueFd fd) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::FailedPreconditionError("fake broker stopped");
  const int index = static_cast<int>(records_.size());
  records_.emplace_back();
  records_.back().index = index;
  if (index >= options_.max_connections) {
    records_.back().close = FakeBrokerClose::kTooMany;
    ++closed_;
    return absl::OkStatus();  // `fd` closes here
  }
  auto session = std::make_shared<Session>(*this, index, std::move(fd), ctx_);
  threads_.emplace_back([session] { session->Run(); });
  return absl::OkStatus();
}

absl::Status FakeBroker::SetSvid(const identity::X509Svid& svid) {
  absl::StatusOr<SharedCtx> ctx = MakeContext(svid);
  if (!ctx.ok()) return ctx.status();
  absl::MutexLock lock(&mu_);
  ctx_ = *std::move(ctx);
  return absl::OkStatus();
}

void FakeBroker::SetClientBundle(identity::X509Bundle bundle) {
  absl::MutexLock lock(&mu_);
  bundle_ = std::move(bundle);
}

void FakeBroker::SetRefusedIds(std::set<std::string> ids) {
  absl::MutexLock lock(&mu_);
  refused_ids_ = std::move(ids);
}

bool FakeBroker::WaitForClosed(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool FakeBroker::WaitForAccepted(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int past = 0;
    for (const FakeBrokerConnection& r : records_) {
      if (r.handshake_ok || r.close != FakeBrokerClose::kOpen) ++past;
    }
    return past >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

void FakeBroker::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    threads.swap(threads_);
  }
  // Level-triggered: every poll() of the broker sees it from now on.
  const char byte = 0;
  (void)!write(stop_write_.get(), &byte, 1);
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : threads) t.join();
  listener_.reset();
}

std::vector<FakeBrokerConnection> FakeBroker::connections() const {
  absl::MutexLock lock(&mu_);
  return records_;
}

int FakeBroker::connections_accepted() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(records_.size());
}

int FakeBroker::handshakes_failed() const {
  absl::MutexLock lock(&mu_);
  return handshakes_failed_;
}

int64_t FakeBroker::bytes_forwarded() const {
  absl::MutexLock lock(&mu_);
  return bytes_forwarded_;
}

int FakeBroker::expired_closes() const {
  absl::MutexLock lock(&mu_);
  return expired_closes_;
}

int FakeBroker::refused_clients() const {
  absl::MutexLock lock(&mu_);
  return refused_clients_;
}

}  // namespace mayfly::kafka
