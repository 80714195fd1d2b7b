// X.509-SVID verification: the SPIFFE rules checked one by one for clear
// errors, then OpenSSL's chain building for signatures.
#include "identity/x509_verify.h"

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {
namespace {

std::string TimeString(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Status CheckLeafUsage(X509& leaf) {
  // X509_get_extension_flags parses the extensions once and caches them.
  const uint32_t flags = X509_get_extension_flags(&leaf);
  if ((flags & EXFLAG_INVALID) != 0) {
    return absl::InvalidArgumentError(
        "leaf certificate has invalid extensions");
  }
  if ((flags & EXFLAG_CA) != 0) {
    return absl::InvalidArgumentError(
        "leaf certificate must not be a CA (basicConstraints cA=true)");
  }
  if ((flags & EXFLAG_KUSAGE) == 0) {
    return absl::InvalidArgumentError(
        "leaf certificate must have a keyUsage extension");
  }
  const uint32_t ku = X509_get_key_usage(&leaf);
  if ((ku & KU_DIGITAL_SIGNATURE) == 0) {
    return absl::InvalidArgumentError(
        "leaf certificate keyUsage must include digitalSignature");
  }
  if ((ku & KU_KEY_CERT_SIGN) != 0) {
    return absl::InvalidArgumentError(
        "leaf certificate keyUsage must not include keyCertSign");
  }
  if ((ku & KU_CRL_SIGN) != 0) {
    return absl::InvalidArgumentError(
        "leaf certificate keyUsage must not include cRLSign");
  }
  if ((flags & EXFLAG_XKUSAGE) != 0 &&
      (X509_get_extended_key_usage(&leaf) &
       (XKU_SSL_SERVER | XKU_SSL_CLIENT | XKU_ANYEKU)) == 0) {
    return absl::InvalidArgumentError(
        "leaf certificate extendedKeyUsage allows neither serverAuth nor "
        "clientAuth");
  }
  return absl::OkStatus();
}

absl::Status CheckSigningCert(X509& cert, size_t index) {
  const uint32_t flags = X509_get_extension_flags(&cert);
  if ((flags & EXFLAG_CA) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate ", index, " of the chain signs but is not a CA"));
  }
  if ((flags & EXFLAG_KUSAGE) != 0 &&
      (X509_get_key_usage(&cert) & KU_KEY_CERT_SIGN) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", index, " of the chain lacks keyCertSign"));
  }
  return absl::OkStatus();
}

absl::Status CheckValidity(X509& cert, size_t index, absl::Time now) {
  const std::string which =
      index == 0 ? "leaf certificate"
                 : absl::StrCat("certificate ", index, " of the chain");
  const absl::Time not_before = CertNotBefore(cert);
  const absl::Time not_after = CertNotAfter(cert);
  if (now < not_before) {
    return absl::UnauthenticatedError(
        absl::StrCat(which, " is not valid yet: NotBefore ",
                     TimeString(not_before), ", now ", TimeString(now)));
  }
  // RFC 5280 makes NotAfter inclusive, but OpenSSL's chain check treats the
  // NotAfter second itself as expired; agree with OpenSSL so that the two
  // checks never disagree about the same instant.
  if (now >= not_after) {
    return absl::UnauthenticatedError(
        absl::StrCat(which, " has expired: NotAfter ", TimeString(not_after),
                     ", now ", TimeString(now)));
  }
  return absl::OkStatus();
}

absl::StatusOr<CertChain> BuildVerifiedChain(const CertChain& chain,
                                             const X509Bundle& bundle,
                                             absl::Time now) {
  UniqueX509Store store(X509_STORE_new());
  for (const UniqueX509& root : bundle.roots()) {
    X509_STORE_add_cert(store.get(), root.get());  // Takes its own reference.
  }
  UniqueX509Stack untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    sk_X509_push(untrusted.get(), ShareCert(chain[i].get()).release());
  }
  UniqueX509StoreCtx ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr ||
      X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(),
                          untrusted.get()) != 1) {
    return OpenSslError("cannot set up chain verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    DrainOpenSslErrors();
    if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
        err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
        err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) {
      return absl::UnauthenticatedError(absl::StrCat(
          "certificate chain does not lead to a root in the trust bundle of ",
          bundle.trust_domain().name(), " (",
          X509_verify_cert_error_string(err), ")"));
    }
    return absl::UnauthenticatedError(
        absl::StrCat("certificate chain verification failed: ",
                     X509_verify_cert_error_string(err)));
  }
  CertChain verified;
  STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i < sk_X509_num(built); ++i) {
    verified.push_back(ShareCert(sk_X509_value(built, i)));
  }
  return verified;
}

}  // namespace

std::vector<std::string> UriSans(X509& cert) {
  // X509_get_ext_d2i returns a fresh copy that we own.
  UniqueGeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> uris;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get());
       ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* ia5 = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ia5->data),
                      static_cast<size_t>(ia5->length));
  }
  return uris;
}

absl::StatusOr<SpiffeId> SpiffeIdFromCert(X509& leaf) {
  const std::vector<std::string> uris = UriSans(leaf);
  if (uris.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leaf certificate must have exactly one URI SAN, found ", uris.size()));
  }
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(uris[0]);
  if (!id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf certificate URI SAN is not a SPIFFE ID: ",
                     id.status().message()));
  }
  return id;
}

absl::StatusOr<VerifiedSvid> VerifyX509Svid(const CertChain& chain,
                                            const X509Bundle& bundle,
                                            absl::Time now) {
  if (chain.empty()) {
    return absl::InvalidArgumentError("certificate chain is empty");
  }
  X509& leaf = *chain[0];
  ASSIGN_OR_RETURN(SpiffeId id, SpiffeIdFromCert(leaf));
  if (!id.MemberOf(bundle.trust_domain())) {
    return absl::UnauthenticatedError(
        absl::StrCat("SPIFFE ID ", id.ToString(), " is not in trust domain ",
                     bundle.trust_domain().name(), " of the bundle"));
  }
  RETURN_IF_ERROR(CheckLeafUsage(leaf));
  for (size_t i = 1; i < chain.size(); ++i) {
    RETURN_IF_ERROR(CheckSigningCert(*chain[i], i));
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    RETURN_IF_ERROR(CheckValidity(*chain[i], i, now));
  }
  if (bundle.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "trust bundle of ", bundle.trust_domain().name(), " has no roots"));
  }
  ASSIGN_OR_RETURN(CertChain verified, BuildVerifiedChain(chain, bundle, now));
  return VerifiedSvid{std::move(id), std::move(verified), CertNotAfter(leaf)};
}

}  // namespace mayfly::identity
