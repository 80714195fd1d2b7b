// MayflyServer: one mayfly-server replica, wired from its config.
//
// Owns the KvStore (OpenKvStore: the file store, or etcd), the ServerStore
// over it, the StoreCache, the ReplicaSigner, the Node TLS port (Node and,
// for admin_ids, Registration) and the admin Unix socket. The server's own
// TLS SVID (spiffe://TD/mayfly/server, chain up to and including the root)
// lives in STATE_DIR/tls/ as two files rewritten atomically; gRPC's
// FileWatcherCertificateProvider re-reads them, so a renewed SVID is served
// to new handshakes without a restart.
//
// Maintain() renews what is due (the intermediate at half-life, the server
// SVID at half-life) and publishes this replica's roots and JWT key into
// the store's bundle; Run() calls it on a timer until Shutdown(). In
// ca_dir mode it also drives a root rotation that `mayfly ca rotate`
// prepared (root_rotation.h): it publishes the next root into the store's
// bundle, promotes it once the bundle has carried it for
// root_rotation_lead and every open Sync stream has been sent it (and
// renews the intermediate and the server SVID under it at once), and after
// drop_after removes the retired root from the CA directory and from the
// store's bundle (server_rotation.cc). With admin-signed intermediates it
// re-reads the signing files, and holds back a new intermediate under
// another root until the store's bundle has carried that root for
// root_rotation_lead and every open Sync stream has been sent it.
//
// With metrics_address, /metrics serves RenderMetrics() (server_metrics.cc):
// when the signing intermediate, this replica's own SVID and the bundle's
// roots expire, SVIDs signed and refused, open Sync streams, agents in the
// store and store errors.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_SERVER_SERVER_H_
#define MAYFLY_IDENTITY_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "identity/metrics/metrics_server.h"
#include "identity/server/admin_socket.h"
#include "identity/server/config.h"
#include "identity/server/error_counting_kv_store.h"
#include "identity/server/kv_store.h"
#include "identity/server/node_service.h"
#include "identity/server/registration_service.h"
#include "identity/server/replica_signer.h"
#include "identity/server/server_store.h"
#include "identity/server/store_cache.h"

namespace mayfly::server {

// How often Run() checks what is due. Renewals happen at half-lives of an
// hour or more; a minute is early enough and cheap.
inline constexpr absl::Duration kMaintainInterval = absl::Seconds(30);
// How often gRPC re-reads the TLS files (its FileWatcher's interval).
inline constexpr int kTlsFileRefreshSeconds = 1;

// The store the config names. The one place that knows both kinds.
absl::StatusOr<std::unique_ptr<KvStore>> OpenKvStore(
    const ServerConfig& config);

class MayflyServer {
 public:
  static absl::StatusOr<std::unique_ptr<MayflyServer>> Start(
      const ServerConfig& config, const identity::Clock& clock);
  ~MayflyServer();

  // The Node API's port (the kernel's choice for port 0).
  int node_port() const { return node_port_; }
  // The metrics port (the kernel's choice for port 0); 0 without one.
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  // The Prometheus text /metrics serves.
  std::string RenderMetrics() const ABSL_LOCKS_EXCLUDED(mu_);
  const ReplicaSigner& signer() const { return *signer_; }
  ServerStore& store() { return *store_; }
  std::string server_cert_path() const;
  // What each open Sync stream on this replica has been sent.
  SyncDelivery& sync_delivery() { return node_->delivery(); }

  absl::Status Maintain() ABSL_LOCKS_EXCLUDED(mu_);
  // Calls Maintain every kMaintainInterval until Shutdown.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  MayflyServer(ServerConfig config, const identity::Clock& clock)
      : config_(std::move(config)), clock_(clock) {}

  absl::Status WriteServerIdentity() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes the roots this replica trusts and its JWT key into the
  // store's bundle: the root it signs under, and the roots of the bundle
  // file as it is now (ca_dir mode: the CA directory's bundle.pem), which
  // carries a prepared root before anything is signed by it.
  absl::Status PublishToStore() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ca_dir mode: moves a root rotation on by one step if one is due. True
  // if the signing material changed (the server SVID is then renewed).
  absl::StatusOr<bool> AdvanceRootRotation() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Intermediate mode: re-reads the signing files. A chain under the root
  // in force is taken at once; one under another root only once
  // SwitchDue(that root). True if the signing material changed.
  absl::StatusOr<bool> AdvanceIntermediate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a chain under `next_root` (DER) may sign now: the store's
  // bundle has carried it for root_rotation_lead and every open Sync
  // stream on this replica has been sent it. Publishes first.
  absl::StatusOr<bool> SwitchDue(const std::string& next_root)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServerConfig config_;
  const identity::Clock& clock_;
  std::unique_ptr<KvStore> backing_kv_;
  // Over backing_kv_: what every user of the store goes through.
  std::unique_ptr<ErrorCountingKvStore> kv_;
  std::unique_ptr<ServerStore> store_;
  std::unique_ptr<StoreCache> cache_;
  std::unique_ptr<ReplicaSigner> signer_;
  std::unique_ptr<NodeService> node_;
  std::unique_ptr<RegistrationService> registration_tls_;
  std::unique_ptr<RegistrationService> registration_admin_;
  RefusingRegistration refusing_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<AdminSocket> admin_socket_;
  int node_port_ = 0;
  // After what it reads, so destroyed before it (Shutdown stops it first).
  std::unique_ptr<metrics::MetricsServer> metrics_;

  mutable absl::Mutex mu_;
  absl::Time server_svid_renew_at_ ABSL_GUARDED_BY(mu_);
  absl::Time server_svid_not_after_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The prepared root (DER) this replica has seen in the store's bundle,
  // and since when (clock_.Monotonic(): a wall-clock step must neither
  // hurry nor stall the lead). A restart starts the lead over: later, never
  // earlier.
  std::string rotation_next_der_ ABSL_GUARDED_BY(mu_);
  absl::Duration rotation_seen_at_ ABSL_GUARDED_BY(mu_);
  // The store revision at which it was seen there: every Sync stream must
  // have been sent a state at least this new before the next root signs.
  int64_t rotation_revision_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_SERVER_H_
