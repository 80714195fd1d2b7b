// A real mayfly-server for tests: the file store under $TEST_TMPDIR, the
// Node API on a loopback port chosen by the kernel, the admin socket, and
// clients that attest as agents over real TLS. A fake clock starts at the
// wall time (TLS peers check certificates against the real clock) and moves
// only when a test says so.
#ifndef MAYFLY_IDENTITY_SERVER_TESTING_SERVER_FIXTURE_H_
#define MAYFLY_IDENTITY_SERVER_TESTING_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/csr.h"
#include "identity/keys.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/server/proto/server.grpc.pb.h"
#include "identity/server/server.h"
#include "identity/testing/hand_made_csr.h"

namespace mayfly::server::testing {

// Keeps every log event for assertions.
class CapturingSink : public LogSink {
 public:
  struct Event {
    std::string name;
    std::map<std::string, std::string> fields;
  };
  void Write(LogLevel, absl::string_view event, LogFields fields) override {
    absl::MutexLock lock(&mu_);
    Event e{std::string(event), {}};
    for (const auto& [k, v] : fields) e.fields[std::string(k)] = v;
    events_.push_back(std::move(e));
  }
  // Events named `name` whose fields include `want`.
  int Count(absl::string_view name,
            const std::map<std::string, std::string>& want) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const Event& e : events_) {
      if (e.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : want) {
        auto it = e.fields.find(k);
        all &= it != e.fields.end() && it->second == v;
      }
      n += all ? 1 : 0;
    }
    return n;
  }

 private:
  absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
};

using ::mayfly::testing_util::HandMadeCsr;

// An attested agent: its ID, key, SVID chain and a Node stub over mTLS.
struct TestAgent {
  std::string id;
  identity::UniqueEvpPkey key;
  std::vector<std::string> chain_der;
  std::unique_ptr<v1::Node::Stub> node;
};

class ServerFixture : public ::testing::Test {
 protected:
  // Whole seconds: certificates carry no fractions.
  ServerFixture()
      : clock_(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))) {}

  void SetUp() override {
    SetLogSink(&sink_);
    // Under /tmp, not $TEST_TMPDIR: a socket path must stay under 108
    // bytes, and Bazel's sandbox paths alone are longer.
    char dir[] = "/tmp/mayfly-server-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    ServerConfig config{*identity::TrustDomain::FromString("example.org")};
    config.listen_address = "127.0.0.1:0";
    config.state_dir = dir_ + "/state";
    config.signing.ca_dir = dir_ + "/state/ca";
    config.admin_socket = dir_ + "/run/admin.sock";
    config.admin_uids = {0, getuid()};
    Configure(config);
    auto server = MayflyServer::Start(config, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    root_pem_ = identity::CertsToPem(
        *identity::CertsFromDer(server_->signer().Current()->root_der));
    admin_ = v1::Registration::NewStub(grpc::CreateChannel(
        "unix:" + config.admin_socket, grpc::InsecureChannelCredentials()));
  }

  // Lets a test suite change the config before the server starts.
  virtual void Configure(ServerConfig& /*config*/) {}

  void TearDown() override {
    server_.reset();
    SetLogSink(nullptr);
    std::filesystem::remove_all(dir_);
  }

  // A Node stub over TLS checking the server against the root; with an
  // identity when `chain_pem` is given.
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& key_pem = "",
                                            const std::string& chain_pem = "") {
    std::vector<grpc::experimental::IdentityKeyCertPair> pairs;
    if (!key_pem.empty()) pairs.push_back({key_pem, chain_pem});
    auto provider =
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            root_pem_, pairs);
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(provider);
    options.watch_root_certs();
    if (!pairs.empty()) options.watch_identity_key_cert_pairs();
    options.set_verify_server_certs(true);
    options.set_check_call_host(false);
    options.set_certificate_verifier(
        std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->node_port()),
        grpc::experimental::TlsCredentials(options), args);
  }

  std::unique_ptr<v1::Node::Stub> NodeStub(const std::string& key_pem = "",
                                           const std::string& chain_pem = "") {
    return v1::Node::NewStub(TlsChannel(key_pem, chain_pem));
  }

  v1::CreateJoinTokenResponse NewToken(
      int64_t ttl_seconds = 0, const std::vector<std::string>& aliases = {}) {
    grpc::ClientContext ctx;
    v1::CreateJoinTokenRequest req;
    req.set_ttl_seconds(ttl_seconds);
    for (const std::string& a : aliases) req.add_aliases(a);
    v1::CreateJoinTokenResponse resp;
    grpc::Status s = admin_->CreateJoinToken(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Attests with `token`; the status, and the SVID in `svid`.
  grpc::Status AttestWithToken(const std::string& token, const EVP_PKEY& key,
                               v1::AgentSvid* svid,
                               const std::string& csr = "") {
    auto stub = NodeStub();
    grpc::ClientContext ctx;
    auto stream = stub->Attest(&ctx);
    v1::AttestRequest req;
    req.mutable_join_token()->set_token(token);
    // The CSR's SAN may only name the agent itself; send none.
    req.set_csr(csr.empty() ? HandMadeCsr(key, key, {}) : csr);
    stream->Write(req);
    stream->WritesDone();
    v1::AttestResponse resp;
    if (stream->Read(&resp)) *svid = resp.svid();
    return stream->Finish();
  }

  // A fresh agent, attested with a new join token.
  TestAgent NewAgent(const std::vector<std::string>& aliases = {}) {
    TestAgent agent;
    agent.key = *identity::GenerateKey(identity::KeyType::kEcP256);
    v1::AgentSvid svid;
    grpc::Status s =
        AttestWithToken(NewToken(0, aliases).token(), *agent.key, &svid);
    EXPECT_TRUE(s.ok()) << s.error_message();
    agent.id = svid.spiffe_id();
    agent.chain_der.assign(svid.chain().begin(), svid.chain().end());
    identity::CertChain chain;
    for (const std::string& der : agent.chain_der) {
      identity::CertChain one = *identity::CertsFromDer(der);
      for (auto& c : one) chain.push_back(std::move(c));
    }
    agent.node = NodeStub(*identity::PrivateKeyToPkcs8Pem(*agent.key),
                          identity::CertsToPem(chain));
    return agent;
  }

  v1::Entry CreateEntry(v1::Entry entry) {
    grpc::ClientContext ctx;
    v1::Entry out;
    grpc::Status s = admin_->CreateEntry(&ctx, entry, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  identity::FakeClock clock_;
  CapturingSink sink_;
  std::string dir_;
  std::unique_ptr<MayflyServer> server_;
  std::string root_pem_;
  std::unique_ptr<v1::Registration::Stub> admin_;
};

}  // namespace mayfly::server::testing

#endif  // MAYFLY_IDENTITY_SERVER_TESTING_SERVER_FIXTURE_H_
