// A PKCS#10 CSR built by hand with any extensions, for tests of the code that
// must refuse what a hostile agent sends (wrong SANs, a CA request, a CSR
// signed by a key other than the one it carries).
#ifndef MAYFLY_IDENTITY_TESTING_HAND_MADE_CSR_H_
#define MAYFLY_IDENTITY_TESTING_HAND_MADE_CSR_H_

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "identity/openssl_util.h"

namespace mayfly::testing_util {

// A CSR with the extensions of `conf` (OpenSSL config syntax, e.g.
// "subjectAltName=URI:spiffe://x/y,DNS:a"), carrying `key`'s public key,
// signed by `signer`: the shapes a hostile agent could send. With no `conf`
// the CSR carries no extension request at all.
inline std::string HandMadeCsr(const EVP_PKEY& key, const EVP_PKEY& signer,
                               const std::vector<std::string>& conf) {
  using UniqueX509Req = identity::OpenSslPtr<X509_REQ, X509_REQ_free>;
  UniqueX509Req req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(&key));
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  for (const std::string& line : conf) {
    const size_t eq = line.find('=');
    X509_EXTENSION* ext =
        X509V3_EXT_conf(nullptr, nullptr, line.substr(0, eq).c_str(),
                        line.substr(eq + 1).c_str());
    EXPECT_NE(ext, nullptr) << line;
    sk_X509_EXTENSION_push(exts, ext);
  }
  if (!conf.empty()) X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(&signer), EVP_sha256());
  const int len = i2d_X509_REQ(req.get(), nullptr);
  std::string der(len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

}  // namespace mayfly::testing_util

#endif  // MAYFLY_IDENTITY_TESTING_HAND_MADE_CSR_H_
