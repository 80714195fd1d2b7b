// PEM and DER codecs for certificate lists.
#include "identity/pem.h"

#include <openssl/pem.h>

#include "absl/strings/str_cat.h"

namespace mayfly::identity {
namespace {

constexpr absl::string_view kCertLabel = "CERTIFICATE";

}  // namespace

absl::StatusOr<CertChain> CertsFromPem(absl::string_view pem) {
  UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return OpenSslError("cannot read PEM");
  CertChain certs;
  int block = 0;
  while (true) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      // PEM_R_NO_START_LINE at the end is the normal way out.
      DrainOpenSslErrors();
      break;
    }
    ++block;
    const bool is_cert = kCertLabel == name;
    UniqueX509 cert;
    if (is_cert) {
      const unsigned char* p = data;
      cert.reset(d2i_X509(nullptr, &p, len));
      if (cert == nullptr || p != data + len) {
        DrainOpenSslErrors();
        cert.reset();
      }
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!is_cert) continue;
    if (cert == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("PEM block ", block, " is not a valid DER certificate"));
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        "no \"-----BEGIN CERTIFICATE-----\" block found");
  }
  return certs;
}

std::string CertsToPem(const CertChain& certs) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  for (const UniqueX509& cert : certs)
    PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<CertChain> CertsFromDer(absl::string_view der) {
  CertChain certs;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  while (p < end) {
    UniqueX509 cert(d2i_X509(nullptr, &p, end - p));
    if (cert == nullptr) {
      DrainOpenSslErrors();
      return absl::InvalidArgumentError(absl::StrCat(
          "certificate ", certs.size() + 1, " in DER list is malformed"));
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError("empty DER certificate list");
  }
  return certs;
}

std::string CertToDer(X509& cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(&cert, &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string CertsToDer(const CertChain& certs) {
  std::string out;
  for (const UniqueX509& cert : certs) out += CertToDer(*cert);
  return out;
}

}  // namespace mayfly::identity
