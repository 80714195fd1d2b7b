// Trust bundle storage and encoding.
#include "identity/bundle.h"

#include "absl/strings/str_cat.h"
#include "identity/pem.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

absl::StatusOr<X509Bundle> FromCerts(TrustDomain trust_domain,
                                     CertChain certs) {
  X509Bundle bundle(std::move(trust_domain));
  for (size_t i = 0; i < certs.size(); ++i) {
    if (X509_check_ca(certs[i].get()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bundle certificate ", i + 1, " is not a CA certificate"));
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
