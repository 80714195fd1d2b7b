// OpenSSL ownership: one unique_ptr alias per OpenSSL type that Mayfly holds.
//
// Every OpenSSL object that crosses a function boundary travels in one of
// these; a raw pointer in an interface is always borrowed, never owned. Where
// OpenSSL itself takes or shares ownership (set0/set1, up_ref) the call site
// says so in a comment.
#ifndef MAYFLY_IDENTITY_OPENSSL_UTIL_H_
#define MAYFLY_IDENTITY_OPENSSL_UTIL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mayfly::identity {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* ptr) const { Free(ptr); }
};

template <typename T, void (*Free)(T*)>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<T, Free>>;

using UniqueAsn1Integer = OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using UniqueAsn1OctetString =
    OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using UniqueAsn1Time = OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;
using UniqueAuthorityKeyId = OpenSslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using UniqueBasicConstraints =
    OpenSslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using UniqueBignum = OpenSslPtr<BIGNUM, BN_free>;
using UniqueBio = OpenSslPtr<BIO, BIO_free_all>;
using UniqueEvpMdCtx = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using UniqueEvpPkey = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using UniqueEvpPkeyCtx = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using UniqueGeneralName = OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using UniqueGeneralNames = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using UniqueX509 = OpenSslPtr<X509, X509_free>;
using UniqueX509Extension = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using UniqueX509Name = OpenSslPtr<X509_NAME, X509_NAME_free>;
using UniqueX509Store = OpenSslPtr<X509_STORE, X509_STORE_free>;
using UniqueX509StoreCtx = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using UniqueExtendedKeyUsage =
    OpenSslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using UniqueAsn1BitString = OpenSslPtr<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;

namespace internal {
inline void FreeX509Stack(STACK_OF(X509) * stack) {
  sk_X509_pop_free(stack, X509_free);
}
}  // namespace internal

// A stack that owns its certificates (and frees them with itself).
using UniqueX509Stack = OpenSslPtr<STACK_OF(X509), internal::FreeX509Stack>;

// A chain of certificates in order, owned; for SVIDs the leaf comes first.
using CertChain = std::vector<UniqueX509>;

// Takes a new reference on `cert`; both the caller and the result own it.
UniqueX509 ShareCert(X509* cert);
UniqueEvpPkey ShareKey(EVP_PKEY* key);

// Copies a chain by taking a new reference on every certificate.
CertChain ShareChain(const CertChain& chain);

// Builds a borrowed view of a chain (for APIs taking a span of pointers).
std::vector<X509*> ChainView(const CertChain& chain);

// Drains OpenSSL's thread-local error queue into one readable string, so a
// later call does not report a stale error. Returns "no OpenSSL error" when
// the queue is empty.
std::string DrainOpenSslErrors();

// An InternalError whose message is `what` plus the drained OpenSSL errors.
absl::Status OpenSslError(absl::string_view what);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_OPENSSL_UTIL_H_
