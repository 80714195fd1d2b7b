// Trust bundle storage and encoding.
#include "identity/bundle.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::identity {
namespace {

// The trust domain a root names: its first URI SAN that is a trust domain
// or an ID in one (Mayfly's and SPIRE's roots carry spiffe://TD), if any.
std::optional<TrustDomain> NamedTrustDomain(X509& root) {
  for (const std::string& uri : UriSans(root)) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(uri);
    if (td.ok()) return *td;
  }
  return std::nullopt;
}

absl::StatusOr<X509Bundle> FromCerts(TrustDomain trust_domain,
                                     CertChain certs) {
  X509Bundle bundle(std::move(trust_domain));
  for (size_t i = 0; i < certs.size(); ++i) {
    if (X509_check_ca(certs[i].get()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bundle certificate ", i + 1, " is not a CA certificate"));
    }
    // A root that says it is another trust domain's is never trusted for
    // this one: it could sign any ID here. The broker plugin's SvidSet
    // refuses such a bundle file too.
    std::optional<TrustDomain> named = NamedTrustDomain(*certs[i]);
    if (named.has_value() && *named != bundle.trust_domain()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bundle certificate ", i + 1, " is a root of trust domain ",
          named->name(), ", not of ", bundle.trust_domain().name()));
    }
    bundle.AddRoot(*certs[i]);
  }
  return bundle;
}

}  // namespace

X509Bundle::X509Bundle(const X509Bundle& other)
    : trust_domain_(other.trust_domain_), roots_(ShareChain(other.roots_)) {}

X509Bundle& X509Bundle::operator=(const X509Bundle& other) {
  if (this != &other) {
    trust_domain_ = other.trust_domain_;
    roots_ = ShareChain(other.roots_);
  }
  return *this;
}

absl::StatusOr<X509Bundle> X509Bundle::FromPem(TrustDomain trust_domain,
                                               absl::string_view pem) {
  ASSIGN_OR_RETURN(CertChain certs, CertsFromPem(pem));
  return FromCerts(std::move(trust_domain), std::move(certs));
}

absl::StatusOr<X509Bundle> X509Bundle::FromDer(TrustDomain trust_domain,
                                               absl::string_view der) {
  ASSIGN_OR_RETURN(CertChain certs, CertsFromDer(der));
  return FromCerts(std::move(trust_domain), std::move(certs));
}

bool X509Bundle::Contains(X509& root) const {
  for (const UniqueX509& r : roots_) {
    if (X509_cmp(r.get(), &root) == 0) return true;
  }
  return false;
}

bool X509Bundle::AddRoot(X509& root) {
  if (Contains(root)) return false;
  roots_.push_back(ShareCert(&root));
  return true;
}

bool X509Bundle::RemoveRoot(X509& root) {
  for (auto it = roots_.begin(); it != roots_.end(); ++it) {
    if (X509_cmp(it->get(), &root) == 0) {
      roots_.erase(it);
      return true;
    }
  }
  return false;
}

std::string X509Bundle::ToPem() const { return CertsToPem(roots_); }

std::string X509Bundle::ToDer() const { return CertsToDer(roots_); }

}  // namespace mayfly::identity
