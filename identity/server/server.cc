// MayflyServer: wiring, the TLS files, and maintenance.
#include "identity/server/server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/log/log.h"
#include "identity/pem.h"
#include "identity/server/etcd/etcd_kv_store.h"
#include "identity/server/file_kv_store.h"
#include "identity/server/peer_auth.h"
#include "identity/server/upstream/stepca.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

// Requests and responses stay small; a SignX509 batch of kMaxCsrsPerBatch
// CSRs and chains is well under this.
constexpr int kMaxMessageBytes = 8 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> OpenKvStore(
    const ServerConfig& config) {
  if (!config.etcd_endpoints.empty()) {
    EtcdKvStore::Options options;
    options.endpoints = config.etcd_endpoints;
    options.ca_file = config.etcd_ca_file;
    options.cert_file = config.etcd_cert_file;
    options.key_file = config.etcd_key_file;
    ASSIGN_OR_RETURN(std::unique_ptr<EtcdKvStore> store,
                     EtcdKvStore::Create(options));
    return std::unique_ptr<KvStore>(std::move(store));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FileKvStore> store,
                   FileKvStore::Open(absl::StrCat(config.state_dir, "/store")));
  return std::unique_ptr<KvStore>(std::move(store));
}

std::string MayflyServer::server_cert_path() const {
  return absl::StrCat(config_.state_dir, "/tls/server.pem");
}

absl::StatusOr<std::unique_ptr<MayflyServer>> MayflyServer::Start(
    const ServerConfig& config, const identity::Clock& clock) {
  std::unique_ptr<MayflyServer> s(new MayflyServer(config, clock));
  RETURN_IF_ERROR(identity::EnsurePrivateDir(config.state_dir));
  RETURN_IF_ERROR(
      identity::EnsurePrivateDir(absl::StrCat(config.state_dir, "/tls")));
  ASSIGN_OR_RETURN(s->backing_kv_, OpenKvStore(config));
  s->kv_ = std::make_unique<ErrorCountingKvStore>(*s->backing_kv_);
  s->store_ =
      std::make_unique<ServerStore>(*s->kv_, config.trust_domain, clock);
  std::unique_ptr<upstream::UpstreamAuthority> upstream;
  if (!config.signing.step_ca.url.empty()) {
    ASSIGN_OR_RETURN(upstream,
                     upstream::StepCa::Create(config.signing.step_ca,
                                              config.trust_domain, clock));
  }
  ASSIGN_OR_RETURN(
      s->signer_,
      ReplicaSigner::Create(config.trust_domain, config.signing,
                            config.state_dir, clock, std::move(upstream)));
  ASSIGN_OR_RETURN(s->cache_, StoreCache::Create(*s->kv_, clock));

  NodeOptions node_options{config.trust_domain, config.default_ttl,
                           config.agent_ttl};
  if (!config.x509pop_ca_bundle.empty()) {
    ASSIGN_OR_RETURN(std::string pem,
                     identity::ReadFile(config.x509pop_ca_bundle));
    ASSIGN_OR_RETURN(node_options.x509pop_roots, identity::CertsFromPem(pem));
    node_options.x509pop_aliases = config.x509pop_aliases;
  }
  s->node_ = std::make_unique<NodeService>(std::move(node_options), *s->store_,
                                           *s->cache_, *s->signer_, clock);
  RegistrationService::Options reg{config.trust_domain, config.join_token_ttl};
  MayflyServer* raw = s.get();
  reg.signing_root = [raw] { return raw->signer_->Current()->root_der; };
  s->registration_admin_ =
      std::make_unique<RegistrationService>(reg, *s->store_, clock);
  reg.require_admin_svid = true;
  reg.admin_ids = config.admin_ids;
  reg.bundle = [raw]() -> absl::StatusOr<identity::X509Bundle> {
    ASSIGN_OR_RETURN(v1::Bundle bundle, raw->store_->GetBundle());
    return X509BundleOf(raw->config_.trust_domain, bundle,
                        raw->signer_->Current()->roots);
  };
  s->registration_tls_ =
      std::make_unique<RegistrationService>(reg, *s->store_, clock);

  {
    absl::MutexLock lock(&s->mu_);
    RETURN_IF_ERROR(s->WriteServerIdentity());
  }
  RETURN_IF_ERROR(s->Maintain());

  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          absl::StrCat(config.state_dir, "/tls/server.key"),
          s->server_cert_path(), kTlsFileRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  // Attest comes without a client certificate; every other call's SVID is
  // verified by the service against the store's bundle (peer_auth.h).
  tls.set_cert_request_type(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address,
                           grpc::experimental::TlsServerCredentials(tls),
                           &s->node_port_);
  builder.RegisterService(s->node_.get());
  builder.RegisterService(s->registration_tls_.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  s->grpc_server_ = builder.BuildAndStart();
  if (s->grpc_server_ == nullptr || s->node_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address));
  }
  if (!config.admin_socket.empty()) {
    ASSIGN_OR_RETURN(
        s->admin_socket_,
        AdminSocket::Start(config.admin_socket, config.admin_socket_mode,
                           config.admin_uids, *s->registration_admin_,
                           s->refusing_));
  }
  if (!config.metrics_address.empty()) {
    ASSIGN_OR_RETURN(s->metrics_, metrics::MetricsServer::Start(
                                      config.metrics_address,
                                      [raw] { return raw->RenderMetrics(); }));
  }
  LogInfo("server_started", {{"trust_domain", config.trust_domain.name()},
                             {"node_port", absl::StrCat(s->node_port_)},
                             {"metrics_port", absl::StrCat(s->metrics_port())},
                             {"store", s->kv_->Describe()},
                             {"admin_socket", config.admin_socket}});
  return s;
}

MayflyServer::~MayflyServer() { Shutdown(); }

absl::Status MayflyServer::WriteServerIdentity() {
  ASSIGN_OR_RETURN(ServerTlsIdentity id,
                   signer_->MintServerIdentity(config_.server_svid_ttl));
  // Key first: the watcher pairs the files it reads; a new key with the old
  // cert is refused by it as a mismatch and retried a second later.
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      absl::StrCat(config_.state_dir, "/tls/server.key"), id.key_pem,
      identity::kPrivateFileMode));
  RETURN_IF_ERROR(identity::WriteFileAtomically(
      server_cert_path(), id.chain_pem, identity::kPublicFileMode));
  const absl::Time now = clock_.Now();
  server_svid_renew_at_ = now + (id.not_after - now) / 2;
  server_svid_not_after_ = id.not_after;
  return absl::OkStatus();
}

absl::Status MayflyServer::Maintain() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<bool> refreshed = config_.signing.ca_dir.empty()
                                       ? AdvanceIntermediate()
                                       : signer_->Refresh();
  if (!refreshed.ok()) {
    LogError("intermediate_refresh_failed",
             {{"error", refreshed.status().ToString()}});
  }
  bool new_signer = refreshed.ok() && *refreshed;
  if (new_signer) {
    LogInfo(
        "intermediate_renewed",
        {{"not_after", absl::FormatTime(absl::RFC3339_sec,
                                        signer_->Current()->signer.NotAfter(),
                                        absl::UTCTimeZone())}});
  }
  absl::Status rotation = absl::OkStatus();
  if (!config_.signing.ca_dir.empty()) {
    absl::StatusOr<bool> rotated = AdvanceRootRotation();
    if (rotated.ok()) {
      new_signer |= *rotated;
    } else {
      rotation = rotated.status();
      LogError("root_rotation_failed", {{"error", rotation.ToString()}});
    }
  }
  if (new_signer || clock_.Now() >= server_svid_renew_at_) {
    RETURN_IF_ERROR(WriteServerIdentity());
    LogInfo("server_svid_renewed", {});
  }
  RETURN_IF_ERROR(PublishToStore());
  return rotation;
}

void MayflyServer::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kMaintainInterval);
    if (stopping_) break;
    mu_.Unlock();
    if (absl::Status s = Maintain(); !s.ok()) {
      LogError("maintenance_failed", {{"error", s.ToString()}});
    }
    mu_.Lock();
  }
}

void MayflyServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && grpc_server_ == nullptr) return;
    stopping_ = true;
  }
  metrics_.reset();
  admin_socket_.reset();
  if (node_ != nullptr) node_->EndStreams();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           std::chrono::seconds(5));
    grpc_server_.reset();
  }
}

}  // namespace mayfly::server
