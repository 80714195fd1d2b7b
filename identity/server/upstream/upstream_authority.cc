// CheckUpstreamChain: see upstream_authority.h.
#include "identity/server/upstream/upstream_authority.h"

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "identity/keys.h"

namespace mayfly::server::upstream {
namespace {

std::string SubjectOf(X509* cert) {
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

}  // namespace

absl::Status CheckUpstreamChain(const UpstreamChain& upstream,
                                const EVP_PKEY& key,
                                const identity::Clock& clock) {
  if (upstream.chain.empty() || upstream.roots.empty()) {
    return absl::FailedPreconditionError(
        "the upstream sent no certificate or no root");
  }
  X509* ours = upstream.chain[0].get();
  if (!identity::KeyMatchesCert(key, *ours)) {
    return absl::FailedPreconditionError(
        "the upstream's certificate is not for this replica's key");
  }
  // X509_check_ca: 1 for a CA that may sign (cA=TRUE, keyCertSign if
  // keyUsage is present).
  if (X509_check_ca(ours) != 1 ||
      (X509_get_extension_flags(ours) & EXFLAG_KUSAGE &&
       !(X509_get_key_usage(ours) & KU_KEY_CERT_SIGN))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the upstream issued \"", SubjectOf(ours),
        "\" without cA=TRUE and keyCertSign: its template must issue CA "
        "certificates (docs/upstream.md)"));
  }
  identity::UniqueX509Store store(X509_STORE_new());
  identity::UniqueX509Stack untrusted(sk_X509_new_null());
  identity::UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }
  for (const identity::UniqueX509& root : upstream.roots) {
    X509_STORE_add_cert(store.get(), root.get());  // takes a reference
  }
  for (size_t i = 1; i < upstream.chain.size(); ++i) {
    // The stack owns what it holds: give it its own reference.
    sk_X509_push(untrusted.get(),
                 identity::ShareCert(upstream.chain[i].get()).release());
  }
  X509_STORE_CTX_init(ctx.get(), store.get(), ours, untrusted.get());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());  // borrowed
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(clock.Now()));
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the upstream's chain does not verify to its roots: ",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  }
  // OpenSSL checks pathlen only for the CAs between a target and its root;
  // here the target is itself a CA that will sign leaves, so count it too.
  STACK_OF(X509)* verified = X509_STORE_CTX_get0_chain(ctx.get());  // borrowed
  for (int i = 1; i < sk_X509_num(verified); ++i) {
    X509* ca = sk_X509_value(verified, i);
    const long pathlen = X509_get_pathlen(ca);
    if (pathlen >= 0 && pathlen < i) {
      return absl::FailedPreconditionError(absl::StrCat(
          "\"", SubjectOf(ca), "\" has pathlen:", pathlen, ", so it cannot ",
          "certify this replica's intermediate CA below it (", i,
          " CA certificate(s) below it): sign with a CA without that limit "
          "(docs/upstream.md)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mayfly::server::upstream
