// The TLS side of the admin connection: the SVID it presents, the files
// librdkafka reads it from, and whom it accepts as the broker.
//
// The SVID comes from `mayfly watch x509 --write` files (one consistent set,
// read through ..data) or straight from the Workload API. Either way it is
// written into a fresh private directory (0700; key 0600) for librdkafka,
// because librdkafka 2.0.2 sends the intermediates only when the chain is
// given as ssl.certificate.location (ssl.certificate.pem sends the leaf
// alone). librdkafka reads the files once, when the handle is made, so the
// directory is removed right after that.
//
// The broker is checked by its SPIFFE ID, not its host name: the chain must
// lead to our own trust domain's bundle (OpenSSL checks that, with
// ssl.ca.location), and the leaf's URI SAN must match one of the broker
// patterns (the policy's `brokers` for plan and apply, --broker-spiffe-id
// for reload-broker). There is no default: every SVID carries serverAuth,
// so "any ID of our trust domain" would take any workload for the broker.
// Only our own trust domain's bundle is loaded, so an ID of another trust
// domain is refused even when named: its chain could not have been checked
// by its own domain's roots.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_TLS_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_TLS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::bridge {

struct AdminSvid {
  identity::SpiffeId id;      // ours, from the leaf
  identity::CertChain chain;  // leaf first, then intermediates
  identity::UniqueEvpPkey key;
  identity::CertChain bundle;  // roots of id's trust domain
};

// From svid.pem, svid_key.pem and svid_bundle.pem in `dir`.
absl::StatusOr<AdminSvid> LoadSvidFromDir(const std::string& dir);

// The default SVID from the Workload API at `socket` (empty: the
// SPIFFE_ENDPOINT_SOCKET environment variable) and its trust domain's bundle.
absl::StatusOr<AdminSvid> FetchSvidFromWorkloadApi(absl::string_view socket,
                                                   absl::Duration timeout);

// Whom the admin connection accepts as the broker.
struct BrokerIdRule {
  // The trust domain whose bundle checks the broker's chain (our own).
  identity::TrustDomain bundle_trust_domain;
  // The broker's ID must match one of these; empty refuses every broker.
  std::vector<identity::SpiffeIdPattern> brokers;
  // Where `brokers` came from, for errors: "--broker-spiffe-id".
  std::string source;
};

// Checks the broker's leaf (DER, as librdkafka's verify callback gets it)
// against `rule`. PermissionDenied naming the ID and the rule it breaks;
// InvalidArgument when the leaf does not parse or carries no SPIFFE ID.
absl::Status CheckBrokerLeaf(absl::string_view leaf_der,
                             const BrokerIdRule& rule);

// A private temporary directory holding an AdminSvid as PEM files for
// librdkafka; removed (files and all) when destroyed. Move-only.
class PrivateTlsFiles {
 public:
  // Under $TMPDIR (default /tmp).
  static absl::StatusOr<PrivateTlsFiles> Write(const AdminSvid& svid);

  PrivateTlsFiles(PrivateTlsFiles&& other) noexcept;
  PrivateTlsFiles& operator=(PrivateTlsFiles&&) = delete;
  PrivateTlsFiles(const PrivateTlsFiles&) = delete;
  ~PrivateTlsFiles();

  const std::string& dir() const { return dir_; }
  std::string chain_path() const;   // ssl.certificate.location
  std::string key_path() const;     // ssl.key.location
  std::string bundle_path() const;  // ssl.ca.location

 private:
  explicit PrivateTlsFiles(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;  // empty once moved from
};

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_TLS_H_
