// Certificate construction with OpenSSL's structured extension API.
//
// Extensions are built as ASN.1 structures and added with X509_add1_ext_i2d
// rather than through the text config (X509V3_EXT_conf), which is several
// times slower and is on the minting hot path.
#include "identity/internal/cert_builder.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::identity::internal {
namespace {

absl::Status SetRandomSerial(X509& cert) {
  unsigned char bytes[kSerialBytes];
  RETURN_IF_ERROR(RandomSerial(bytes));
  UniqueBignum bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(&cert)) == nullptr) {
    return OpenSslError("cannot set serial");
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509& cert, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(&cert, nid, value, critical ? 1 : 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status AddBasicConstraints(X509& cert, bool is_ca,
                                 std::optional<int> path_len) {
  UniqueBasicConstraints bc(BASIC_CONSTRAINTS_new());
  bc->ca = is_ca ? 0xff : 0;
  if (path_len.has_value()) {
    bc->pathlen = ASN1_INTEGER_new();  // Owned by `bc` from here on.
    ASN1_INTEGER_set(bc->pathlen, *path_len);
  }
  return AddExtension(cert, NID_basic_constraints, bc.get(), /*critical=*/true);
}

absl::Status AddKeyUsage(X509& cert, int bits) {
  UniqueAsn1BitString ku(ASN1_BIT_STRING_new());
  // OpenSSL's KU_* values are the DER bit string's first two bytes, bit 0
  // (digitalSignature) being the top bit of the first byte.
  for (int bit = 0; bit < 9; ++bit) {
    const int mask = bit < 8 ? (0x80 >> bit) : 0x8000;
    if ((bits & mask) != 0 && ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) != 1) {
      return OpenSslError("cannot build keyUsage");
    }
  }
  return AddExtension(cert, NID_key_usage, ku.get(), /*critical=*/true);
}

absl::Status AddExtKeyUsage(X509& cert, const std::vector<int>& nids) {
  UniqueExtendedKeyUsage eku(sk_ASN1_OBJECT_new_null());
  for (int nid : nids) {
    // OBJ_nid2obj returns a static object; the stack never frees it.
    sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(nid));
  }
  return AddExtension(cert, NID_ext_key_usage, eku.get(), /*critical=*/false);
}

absl::Status PushName(GENERAL_NAMES& names, int type,
                      const std::string& value) {
  UniqueGeneralName name(GENERAL_NAME_new());
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  if (name == nullptr || ia5 == nullptr ||
      ASN1_STRING_set(ia5, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(ia5);
    return OpenSslError("cannot build subjectAltName");
  }
  GENERAL_NAME_set0_value(name.get(), type, ia5);  // `name` now owns `ia5`.
  sk_GENERAL_NAME_push(&names, name.release());    // `names` owns `name`.
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509& cert, const CertTemplate& tmpl) {
  UniqueGeneralNames names(sk_GENERAL_NAME_new_null());
  for (const std::string& uri : tmpl.uris) {
    RETURN_IF_ERROR(PushName(*names, GEN_URI, uri));
  }
  for (const std::string& dns : tmpl.dns_names) {
    RETURN_IF_ERROR(PushName(*names, GEN_DNS, dns));
  }
  // RFC 5280 4.2.1.6: with an empty subject the SAN must be critical.
  const bool critical = tmpl.subject.empty();
  return AddExtension(cert, NID_subject_alt_name, names.get(), critical);
}

absl::Status AddKeyIds(X509& cert, X509* issuer) {
  // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(&cert, EVP_sha1(), digest, &len) != 1) {
    return OpenSslError("cannot hash public key");
  }
  UniqueAsn1OctetString ski(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(ski.get(), digest, static_cast<int>(len));
  RETURN_IF_ERROR(AddExtension(cert, NID_subject_key_identifier, ski.get(),
                               /*critical=*/false));
  const ASN1_OCTET_STRING* issuer_id =
      issuer == nullptr ? ski.get() : X509_get0_subject_key_id(issuer);
  if (issuer_id == nullptr) return absl::OkStatus();
  UniqueAuthorityKeyId aki(AUTHORITY_KEYID_new());
  aki->keyid = ASN1_OCTET_STRING_dup(issuer_id);  // Owned by `aki`.
  return AddExtension(cert, NID_authority_key_identifier, aki.get(),
                      /*critical=*/false);
}

absl::Status Sign(X509& cert, EVP_PKEY& key) {
  // Ed25519 signs the message itself: no separate digest.
  const EVP_MD* md = EVP_PKEY_is_a(&key, "ED25519") ? nullptr : EVP_sha256();
  if (X509_sign(&cert, &key, md) <= 0) {
    return OpenSslError("cannot sign certificate");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UniqueX509Name> SubjectToName(const Subject& subject) {
  UniqueX509Name name(X509_NAME_new());
  if (name == nullptr) return OpenSslError("cannot allocate name");
  for (const auto& [type, value] : subject) {
    if (X509_NAME_add_entry_by_txt(
            name.get(), type.c_str(), MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(value.data()),
            static_cast<int>(value.size()), -1, 0) != 1) {
      DrainOpenSslErrors();
      return absl::InvalidArgumentError(
          absl::StrCat("cannot set subject attribute ", type, "=\"", value,
                       "\" (unknown attribute or value too long)"));
    }
  }
  return name;
}

absl::Status RandomSerial(unsigned char (&bytes)[kSerialBytes]) {
  if (RAND_bytes(bytes, kSerialBytes) != 1) {
    return OpenSslError("cannot draw a random serial");
  }
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01 << 6;
  return absl::OkStatus();
}

absl::StatusOr<UniqueX509> BuildCertificate(const CertTemplate& tmpl,
                                            EVP_PKEY& subject_key, X509* issuer,
                                            EVP_PKEY& signing_key) {
  UniqueX509 cert(X509_new());
  if (cert == nullptr) return OpenSslError("cannot allocate certificate");
  X509_set_version(cert.get(), X509_VERSION_3);
  RETURN_IF_ERROR(SetRandomSerial(*cert));
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(tmpl.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(tmpl.not_after)) == nullptr) {
    return OpenSslError("cannot set validity");
  }
  ASSIGN_OR_RETURN(UniqueX509Name subject, SubjectToName(tmpl.subject));
  if (X509_set_subject_name(cert.get(), subject.get()) != 1) {  // Copies.
    return OpenSslError("cannot set subject");
  }
  X509_NAME* issuer_name = issuer == nullptr ? X509_get_subject_name(cert.get())
                                             : X509_get_subject_name(issuer);
  // For P-256 keys from GenerateKey this is a cheap encode; see keys.cc.
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
      X509_set_pubkey(cert.get(), &subject_key) != 1) {
    return OpenSslError("cannot set issuer or public key");
  }
  if (tmpl.is_ca.has_value()) {
    RETURN_IF_ERROR(AddBasicConstraints(*cert, *tmpl.is_ca, tmpl.path_len));
  }
  if (tmpl.key_usage != 0) RETURN_IF_ERROR(AddKeyUsage(*cert, tmpl.key_usage));
  if (!tmpl.ext_key_usage.empty()) {
    RETURN_IF_ERROR(AddExtKeyUsage(*cert, tmpl.ext_key_usage));
  }
  if (!tmpl.uris.empty() || !tmpl.dns_names.empty()) {
    RETURN_IF_ERROR(AddSubjectAltNames(*cert, tmpl));
  }
  if (tmpl.key_ids) RETURN_IF_ERROR(AddKeyIds(*cert, issuer));
  RETURN_IF_ERROR(Sign(*cert, signing_key));
  return cert;
}

}  // namespace mayfly::identity::internal
