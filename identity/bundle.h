// An X.509 trust bundle: the set of root certificates a trust domain trusts.
//
// A bundle holds more than one root while the trust domain's root rotates:
// the new root is added, everything switches to it, and the old root leaves
// only after all it signed has expired. Roots are kept in the order added and
// deduplicated by their DER encoding. Copying shares the certificates
// (OpenSSL reference counts); a bundle is not thread-safe to mutate.
#ifndef MAYFLY_IDENTITY_BUNDLE_H_
#define MAYFLY_IDENTITY_BUNDLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"

namespace mayfly::identity {

class X509Bundle {
 public:
  explicit X509Bundle(TrustDomain trust_domain)
      : trust_domain_(std::move(trust_domain)) {}
  X509Bundle(const X509Bundle& other);
  X509Bundle& operator=(const X509Bundle& other);
  X509Bundle(X509Bundle&&) = default;
  X509Bundle& operator=(X509Bundle&&) = default;

  // Every certificate in `pem` becomes a root; each must be a CA certificate.
  static absl::StatusOr<X509Bundle> FromPem(TrustDomain trust_domain,
                                            absl::string_view pem);
  static absl::StatusOr<X509Bundle> FromDer(TrustDomain trust_domain,
                                            absl::string_view der);

  const TrustDomain& trust_domain() const { return trust_domain_; }
  const CertChain& roots() const { return roots_; }
  bool empty() const { return roots_.empty(); }

  // Adds a root (shares the reference); returns false if already present.
  bool AddRoot(X509& root);
  // Removes a root equal to `root`; returns false if it was absent.
  bool RemoveRoot(X509& root);
  bool Contains(X509& root) const;

  std::string ToPem() const;
  // Concatenated DER, as in the Workload API's bundle fields.
  std::string ToDer() const;

 private:
  TrustDomain trust_domain_;
  CertChain roots_;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_BUNDLE_H_
