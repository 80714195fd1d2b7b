// Reference sharing and error-queue helpers for the OpenSSL RAII types.
#include "identity/openssl_util.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mayfly::identity {

UniqueX509 ShareCert(X509* cert) {
  // X509_up_ref gives the returned pointer its own reference.
  X509_up_ref(cert);
  return UniqueX509(cert);
}

UniqueEvpPkey ShareKey(EVP_PKEY* key) {
  // Same contract as ShareCert: a new reference for the returned owner.
  EVP_PKEY_up_ref(key);
  return UniqueEvpPkey(key);
}

CertChain ShareChain(const CertChain& chain) {
  CertChain copy;
  copy.reserve(chain.size());
  for (const UniqueX509& cert : chain) copy.push_back(ShareCert(cert.get()));
  return copy;
}

std::vector<X509*> ChainView(const CertChain& chain) {
  std::vector<X509*> view;
  view.reserve(chain.size());
  for (const UniqueX509& cert : chain) view.push_back(cert.get());
  return view;
}

std::string DrainOpenSslErrors() {
  std::vector<std::string> errors;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    errors.emplace_back(buf);
  }
  if (errors.empty()) return "no OpenSSL error";
  return absl::StrJoin(errors, "; ");
}

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", DrainOpenSslErrors()));
}

}  // namespace mayfly::identity
