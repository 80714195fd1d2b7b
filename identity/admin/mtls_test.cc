// The admin client over mTLS: the server is trusted when its chain leads to
// the --bundle roots and its SVID is spiffe://TD/mayfly/server, with no
// hostname check (the target is 127.0.0.1). A real TLS gRPC server serves
// the in-memory Registration service.
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/admin/testing/fake_registration.h"
#include "identity/cli/command.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/svid_files.h"
#include "identity/x509_svid.h"

namespace mayfly::admin {
namespace {

using identity::CertChain;
using identity::SpiffeId;
using identity::UniqueX509;

identity::TrustDomain ExampleOrg() {
  return *identity::TrustDomain::FromString("example.org");
}

identity::Signer Root() {
  return *identity::MintRootCa({ExampleOrg(), absl::Hours(1)},
                               identity::RealClock());
}

identity::X509Svid Svid(const identity::Signer& root, const std::string& id) {
  return *identity::MintX509Svid({*SpiffeId::FromString(id)}, root,
                                 identity::RealClock());
}

CertChain RootChain(const identity::Signer& root) {
  CertChain chain;
  chain.push_back(UniqueX509(X509_dup(root.cert.get())));
  return chain;
}

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = getenv("TEST_TMPDIR");
    const identity::X509Svid admin = Svid(root_, "spiffe://example.org/admin");
    ASSERT_TRUE(identity::WriteSvidFiles(tmp_ + "/admin", admin.chain,
                                         *admin.key, RootChain(root_))
                    .ok());
  }

  // Serves the fake over TLS as `server_id`, signed by `signer`.
  void Serve(const identity::Signer& signer, const std::string& server_id) {
    const identity::X509Svid svid = Svid(signer, server_id);
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    // The server trusts the admin's root whoever signed its own SVID, so
    // that only the client's checks can refuse the connection.
    options.pem_root_certs = identity::CertsToPem(RootChain(signer)) +
                             identity::CertsToPem(RootChain(root_));
    options.pem_key_cert_pairs.push_back(
        {*identity::PrivateKeyToPkcs8Pem(*svid.key),
         identity::CertsToPem(svid.chain)});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options),
                             &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // `mayfly entry list` over mTLS with the bundle `bundle_roots`.
  int List(const identity::Signer& bundle_roots, std::string* err) {
    const std::string bundle = tmp_ + "/bundle.pem";
    EXPECT_TRUE(identity::WriteFileAtomically(
                    bundle, identity::CertsToPem(RootChain(bundle_roots)),
                    identity::kPublicFileMode)
                    .ok());
    const std::vector<std::string> args = {
        "--server", address_, "--svid-dir", tmp_ + "/admin",
        "--bundle", bundle,   "--timeout",  "5s"};
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    const int code =
        cli::CommandRegistry::Global().Find({"entry", "list"})->run(args);
    ::testing::internal::GetCapturedStdout();
    *err = ::testing::internal::GetCapturedStderr();
    return code;
  }

  std::string tmp_;
  const identity::Signer root_ = Root();
  testing::FakeRegistration fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(MtlsTest, TrustsTheServerIdUnderTheBundle) {
  Serve(root_, "spiffe://example.org/mayfly/server");
  std::string err;
  EXPECT_EQ(List(root_, &err), cli::kExitOk) << err;
  EXPECT_EQ(fake_.calls(), 1);
}

TEST_F(MtlsTest, RefusesAnotherSpiffeId) {
  Serve(root_, "spiffe://example.org/mayfly/server/not");
  std::string err;
  EXPECT_EQ(List(root_, &err), cli::kExitFailure);
  // gRPC logs lines of its own to stderr too.
  EXPECT_THAT(err, ::testing::HasSubstr("mayfly entry list: UNAVAILABLE: "));
  EXPECT_THAT(
      err, ::testing::HasSubstr("the server's certificate names "
                                "spiffe://example.org/mayfly/server/not, not "
                                "spiffe://example.org/mayfly/server\n"));
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(MtlsTest, RefusesAServerOutsideTheBundle) {
  const identity::Signer other = Root();
  Serve(other, "spiffe://example.org/mayfly/server");
  std::string err;
  // The client trusts `root_` only.
  EXPECT_EQ(List(root_, &err), cli::kExitFailure);
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(MtlsTest, UnreadableSvidIsAFailureNotAUsageError) {
  Serve(root_, "spiffe://example.org/mayfly/server");
  std::string err;
  ::testing::internal::CaptureStderr();
  const int code = cli::CommandRegistry::Global()
                       .Find({"entry", "list"})
                       ->run({"--server", address_, "--svid-dir",
                              tmp_ + "/none", "--bundle", tmp_ + "/b.pem"});
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, cli::kExitFailure);
  EXPECT_THAT(err, ::testing::StartsWith("mayfly entry list: --svid-dir "));
}

}  // namespace
}  // namespace mayfly::admin
