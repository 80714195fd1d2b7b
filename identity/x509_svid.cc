// X.509-SVID and CA certificate minting on top of internal::BuildCertificate.
#include "identity/x509_svid.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "identity/internal/leaf_der.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

absl::Time Asn1ToTime(const ASN1_TIME* t) {
  struct tm tm_value = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm_value) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTM(tm_value, absl::UTCTimeZone());
}

Subject CaSubject(const CaRequest& request, absl::string_view role) {
  if (!request.subject.empty()) return request.subject;
  return {{"O", std::string(kDefaultSubjectOrganization)},
          {"CN", absl::StrCat(request.trust_domain.name(), " ", role)}};
}

internal::CertTemplate CaTemplate(const CaRequest& request,
                                  absl::string_view role, absl::Time now,
                                  absl::Time not_after) {
  internal::CertTemplate tmpl;
  tmpl.subject = CaSubject(request, role);
  tmpl.uris = {request.trust_domain.IdString()};
  tmpl.is_ca = true;
  tmpl.key_usage = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
  tmpl.not_before = now - kNotBeforeBackdate;
  tmpl.not_after = not_after;
  return tmpl;
}

}  // namespace

absl::Time CertNotBefore(const X509& cert) {
  return Asn1ToTime(X509_get0_notBefore(&cert));
}

absl::Time CertNotAfter(const X509& cert) {
  return Asn1ToTime(X509_get0_notAfter(&cert));
}

absl::Time EarliestNotAfter(const CertChain& certs) {
  absl::Time earliest = absl::InfiniteFuture();
  for (const UniqueX509& cert : certs) {
    earliest = std::min(earliest, CertNotAfter(*cert));
  }
  return earliest;
}

absl::Time Signer::NotAfter() const { return CertNotAfter(*cert); }

bool Signer::IsRoot() const {
  return X509_check_issued(cert.get(), cert.get()) == X509_V_OK;
}

CertChain Signer::ChainBelowRoot() const {
  CertChain chain;
  if (!IsRoot()) chain.push_back(ShareCert(cert.get()));
  for (const UniqueX509& c : intermediates) chain.push_back(ShareCert(c.get()));
  return chain;
}

Signer Signer::Share() const {
  return Signer{ShareCert(cert.get()), ShareKey(key.get()),
                ShareChain(intermediates)};
}

namespace {

// The leaf's key and DER, shared by both forms of MintX509Svid.
struct MintedLeaf {
  UniqueEvpPkey key;
  std::string der;
  absl::Time not_before;
  absl::Time not_after;
};

// Certifies `public_key` if given (a key from a CSR: the caller holds the
// private half), else a fresh key of request.key_type.
absl::StatusOr<MintedLeaf> MintLeaf(const X509SvidRequest& request,
                                    const EVP_PKEY* public_key,
                                    const Signer& signer, const Clock& clock) {
  if (request.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("SVID TTL must be positive");
  }
  const absl::Time now = clock.Now();
  const absl::Time signer_expiry = signer.NotAfter();
  if (signer_expiry <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "signing CA expired at ", absl::FormatTime(signer_expiry)));
  }
  UniqueEvpPkey key;
  KeyType key_type = request.key_type;
  if (public_key != nullptr) {
    ASSIGN_OR_RETURN(key_type, KeyTypeOf(*public_key));
    // Shared, not copied: the caller keeps its reference.
    key = ShareKey(const_cast<EVP_PKEY*>(public_key));
  } else {
    ASSIGN_OR_RETURN(key, GenerateKey(key_type));
  }

  internal::LeafFields fields;
  fields.uri = request.id.ToString();
  fields.dns_names = request.dns_names;
  if (request.subject.empty()) {
    // Encoded once: every leaf without a requested subject shares it.
    static const std::string* const default_subject =
        new std::string(*internal::SubjectToDer(
            {{"O", std::string(kDefaultSubjectOrganization)}}));
    fields.subject_der = *default_subject;
  } else {
    ASSIGN_OR_RETURN(fields.subject_der,
                     internal::SubjectToDer(request.subject));
  }
  fields.key_usage = KU_DIGITAL_SIGNATURE;
  // TLS 1.2 RSA key exchange encrypts to the leaf key; the spec allows it.
  if (key_type == KeyType::kRsa2048) {
    fields.key_usage |= KU_KEY_ENCIPHERMENT;
  }
  fields.not_before = now - kNotBeforeBackdate;
  fields.not_after = std::min(now + request.ttl, signer_expiry);
  ASSIGN_OR_RETURN(
      std::string der,
      internal::BuildLeafDer(fields, *key, *signer.cert, *signer.key));
  return MintedLeaf{std::move(key), std::move(der), fields.not_before,
                    fields.not_after};
}

}  // namespace

absl::StatusOr<X509SvidDer> MintX509SvidDer(const X509SvidRequest& request,
                                            const Signer& signer,
                                            const Clock& clock) {
  ASSIGN_OR_RETURN(MintedLeaf leaf, MintLeaf(request, nullptr, signer, clock));
  return X509SvidDer{request.id, std::move(leaf.der), std::move(leaf.key),
                     leaf.not_before, leaf.not_after};
}

absl::StatusOr<X509SvidDer> MintX509SvidDerForKey(
    const X509SvidRequest& request, const EVP_PKEY& public_key,
    const Signer& signer, const Clock& clock) {
  ASSIGN_OR_RETURN(MintedLeaf leaf,
                   MintLeaf(request, &public_key, signer, clock));
  return X509SvidDer{request.id, std::move(leaf.der), nullptr, leaf.not_before,
                     leaf.not_after};
}

absl::StatusOr<X509Svid> MintX509Svid(const X509SvidRequest& request,
                                      const Signer& signer,
                                      const Clock& clock) {
  ASSIGN_OR_RETURN(MintedLeaf leaf, MintLeaf(request, nullptr, signer, clock));
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(leaf.der.data());
  UniqueX509 cert(d2i_X509(nullptr, &p, static_cast<long>(leaf.der.size())));
  if (cert == nullptr) return OpenSslError("minted leaf does not parse");
  X509Svid svid{
      request.id, {}, std::move(leaf.key), leaf.not_before, leaf.not_after};
  svid.chain.push_back(std::move(cert));
  for (UniqueX509& c : signer.ChainBelowRoot()) {
    svid.chain.push_back(std::move(c));
  }
  return svid;
}

absl::StatusOr<Signer> MintRootCa(const CaRequest& request,
                                  const Clock& clock) {
  const absl::Time now = clock.Now();
  ASSIGN_OR_RETURN(UniqueEvpPkey key, GenerateKey(request.key_type));
  internal::CertTemplate tmpl =
      CaTemplate(request, "root CA", now, now + request.ttl);
  ASSIGN_OR_RETURN(UniqueX509 cert,
                   internal::BuildCertificate(tmpl, *key, nullptr, *key));
  return Signer{std::move(cert), std::move(key), {}};
}

absl::StatusOr<Signer> MintIntermediateCa(const CaRequest& request,
                                          const Signer& parent,
                                          const Clock& clock) {
  const absl::Time now = clock.Now();
  ASSIGN_OR_RETURN(UniqueEvpPkey key, GenerateKey(request.key_type));
  internal::CertTemplate tmpl =
      CaTemplate(request, "intermediate CA", now,
                 std::min(now + request.ttl, parent.NotAfter()));
  // Leaves only below it: a stolen intermediate cannot mint further CAs.
  tmpl.path_len = 0;
  ASSIGN_OR_RETURN(
      UniqueX509 cert,
      internal::BuildCertificate(tmpl, *key, parent.cert.get(), *parent.key));
  return Signer{std::move(cert), std::move(key), parent.ChainBelowRoot()};
}

absl::StatusOr<UniqueX509> MintIntermediateCaForKey(const CaRequest& request,
                                                    const EVP_PKEY& public_key,
                                                    const Signer& parent,
                                                    const Clock& clock) {
  const absl::Time now = clock.Now();
  internal::CertTemplate tmpl =
      CaTemplate(request, "intermediate CA", now,
                 std::min(now + request.ttl, parent.NotAfter()));
  tmpl.path_len = 0;
  // BuildCertificate reads only the public half of the subject key.
  return internal::BuildCertificate(tmpl, const_cast<EVP_PKEY&>(public_key),
                                    parent.cert.get(), *parent.key);
}

}  // namespace mayfly::identity
