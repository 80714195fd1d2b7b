// x509pop, the agent's half: see x509pop.h.
#include "identity/agent/remote/x509pop.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mayfly::agent::remote {

absl::StatusOr<std::string> SignX509PopChallenge(const EVP_PKEY& key,
                                                 absl::string_view nonce) {
  const std::string message = absl::StrCat(kX509PopContext, nonce);
  identity::OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  EVP_PKEY* pkey = const_cast<EVP_PKEY*>(&key);  // only read
  const int type = EVP_PKEY_get_base_id(pkey);
  const EVP_MD* md = type == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) {
    return absl::InternalError("x509pop: cannot sign with the node key");
  }
  if (type == EVP_PKEY_RSA &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return absl::InternalError("x509pop: cannot set RSA-PSS");
  }
  size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, data, message.size()) != 1) {
    return absl::InternalError("x509pop: cannot sign the challenge");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&signature[0]),
                     &length, data, message.size()) != 1) {
    return absl::InternalError("x509pop: cannot sign the challenge");
  }
  signature.resize(length);
  return signature;
}

}  // namespace mayfly::agent::remote
