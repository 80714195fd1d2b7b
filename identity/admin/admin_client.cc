// Channels to the Registration service: the admin Unix socket, or mTLS with
// an admin SVID. See admin_client.h.
#include "identity/admin/admin_client.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "identity/duration.h"
#include "identity/file_util.h"
#include "identity/grpc_status.h"
#include "identity/pem.h"
#include "identity/spiffe_id.h"
#include "identity/status_macros.h"
#include "identity/svid_files.h"
#include "identity/x509_verify.h"

namespace mayfly::admin {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";
// sockaddr_un.sun_path is 108 bytes on Linux, the NUL included.
constexpr size_t kMaxUnixSocketPath = 107;

// Runs after gRPC has verified the server's chain against the bundle: the
// leaf must name exactly the server's SPIFFE ID. Synchronous.
class ServerIdVerifier
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit ServerIdVerifier(std::string want) : want_(std::move(want)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const std::vector<grpc::string_ref> uris = request->uri_names();
    if (uris.size() == 1 &&
        absl::string_view(uris[0].data(), uris[0].size()) == want_) {
      *sync_status = grpc::Status::OK;
    } else {
      std::string got;
      for (const grpc::string_ref& uri : uris) {
        absl::StrAppend(&got, got.empty() ? "" : ", ",
                        absl::string_view(uri.data(), uri.size()));
      }
      *sync_status = grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("the server's certificate names ",
                       got.empty() ? "no URI" : got, ", not ", want_));
    }
    return true;  // answered synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  const std::string want_;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MtlsCredentials(
    const ServerFlags& flags) {
  // ReadSvidFiles checks that the key matches the leaf; the PEM text is
  // what gRPC takes.
  absl::StatusOr<identity::SvidFiles> svid =
      identity::ReadSvidFiles(flags.svid_dir);
  if (!svid.ok()) {
    return absl::Status(svid.status().code(),
                        absl::StrCat("--svid-dir ", flags.svid_dir, ": ",
                                     svid.status().message()));
  }
  ASSIGN_OR_RETURN(identity::SpiffeId admin_id,
                   identity::SpiffeIdFromCert(*svid->chain.front()));
  const std::string dir = flags.svid_dir + "/";
  ASSIGN_OR_RETURN(std::string chain_pem,
                   identity::ReadFile(dir + std::string(identity::kSvidFile)));
  ASSIGN_OR_RETURN(
      std::string key_pem,
      identity::ReadFile(dir + std::string(identity::kSvidKeyFile)));
  ASSIGN_OR_RETURN(std::string bundle_pem, identity::ReadFile(flags.bundle));
  if (absl::Status s = identity::CertsFromPem(bundle_pem).status(); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("--bundle ", flags.bundle, ": ", s.message()));
  }
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          bundle_pem, std::vector<grpc::experimental::IdentityKeyCertPair>{
                          {key_pem, chain_pem}});
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The target is HOST:PORT, which an SVID does not name.
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<ServerIdVerifier>(
          absl::StrCat(identity::kSpiffeScheme, admin_id.trust_domain().name(),
                       kServerIdPath)));
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace

void ServerFlags::AddTo(cli::FlagSet& flags) {
  const char* env = std::getenv(std::string(kAdminServerEnv).c_str());
  server =
      env != nullptr && *env != '\0' ? env : std::string(kDefaultAdminServer);
  flags.String("server", &server,
               absl::StrCat("The server's admin API: unix:///PATH (the admin "
                            "socket) or HOST:PORT (mTLS, with --svid-dir and "
                            "--bundle); from $",
                            kAdminServerEnv, " if set."));
  flags.String("svid-dir", &svid_dir,
               "With HOST:PORT: the admin SVID (svid.pem, svid_key.pem).");
  flags.String("bundle", &bundle,
               "With HOST:PORT: PEM roots the server's chain must lead to.");
  flags.String("timeout", &timeout, "Deadline of each call.");
}

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Connect(
    const ServerFlags& flags) {
  absl::StatusOr<absl::Duration> timeout =
      identity::ParseDuration(flags.timeout);
  if (!timeout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: ", timeout.status().message()));
  }
  if (flags.server.empty()) {
    return absl::InvalidArgumentError("--server: empty");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (absl::StartsWith(flags.server, kUnixScheme)) {
    if (!flags.svid_dir.empty() || !flags.bundle.empty()) {
      return absl::InvalidArgumentError(
          "--svid-dir and --bundle are for a HOST:PORT server; the admin "
          "socket checks the caller's uid");
    }
    absl::string_view path = flags.server;
    path.remove_prefix(kUnixScheme.size());
    absl::ConsumePrefix(&path, "//");
    if (path.size() > kMaxUnixSocketPath) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--server: the socket path is ", path.size(),
          " bytes; a Unix socket path holds at most ", kMaxUnixSocketPath));
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    if (flags.svid_dir.empty() || flags.bundle.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--server ", flags.server,
          " is not unix:///PATH: mTLS needs --svid-dir and --bundle"));
    }
    ASSIGN_OR_RETURN(credentials, MtlsCredentials(flags));
  }
  return std::make_unique<AdminClient>(
      grpc::CreateChannel(flags.server, credentials), *timeout);
}

std::unique_ptr<grpc::ClientContext> AdminClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + timeout_));  // a deadline is wall time
  return context;
}

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(identity::GrpcCodeName(status.error_code()), ": ",
                      status.error_message());
}

}  // namespace mayfly::admin
