// Direct DER encoding of X.509-SVID leaves (RFC 5280 section 4.1).
#include "identity/internal/leaf_der.h"

#include "absl/strings/str_cat.h"
#include "identity/internal/der.h"
#include "identity/status_macros.h"

namespace mayfly::identity::internal {
namespace {

// DER of fixed pieces. OIDs from RFC 5280 (id-ce-*), RFC 5758 (ECDSA),
// RFC 8410 (Ed25519) and RFC 4055 (RSA).
constexpr absl::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);
constexpr absl::string_view kEcdsaWithSha256(
    "\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 12);
constexpr absl::string_view kEd25519("\x30\x05\x06\x03\x2b\x65\x70", 7);
constexpr absl::string_view kSha256WithRsa(
    "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00", 15);
constexpr absl::string_view kOidBasicConstraints("\x06\x03\x55\x1d\x13", 5);
constexpr absl::string_view kOidKeyUsage("\x06\x03\x55\x1d\x0f", 5);
constexpr absl::string_view kOidExtKeyUsage("\x06\x03\x55\x1d\x25", 5);
constexpr absl::string_view kOidSubjectAltName("\x06\x03\x55\x1d\x11", 5);
constexpr absl::string_view kOidSubjectKeyId("\x06\x03\x55\x1d\x0e", 5);
constexpr absl::string_view kOidAuthorityKeyId("\x06\x03\x55\x1d\x23", 5);
// SEQUENCE { serverAuth, clientAuth }.
constexpr absl::string_view kTlsExtKeyUsage(
    "\x30\x14\x06\x08\x2b\x06\x01\x05\x05\x07\x03\x01"
    "\x06\x08\x2b\x06\x01\x05\x05\x07\x03\x02",
    22);
constexpr absl::string_view kTrue("\x01\x01\xff", 3);
constexpr absl::string_view kEmptySequence("\x30\x00", 2);
// Context tags: [3] EXPLICIT extensions, [0] keyIdentifier, SAN choices.
constexpr uint8_t kExtensionsTag = 0xa3;
constexpr uint8_t kKeyIdTag = 0x80;
constexpr uint8_t kDnsNameTag = 0x82;
constexpr uint8_t kUriTag = 0x86;

void AppendExtension(std::string* out, absl::string_view oid, bool critical,
                     absl::string_view value) {
  std::string ext(oid);
  if (critical) ext.append(kTrue.data(), kTrue.size());
  AppendTlv(&ext, kDerOctetString, value);
  AppendTlv(out, kDerSequence, ext);
}

absl::StatusOr<absl::string_view> SignatureAlgorithm(EVP_PKEY& key) {
  if (EVP_PKEY_is_a(&key, "EC")) return kEcdsaWithSha256;
  if (EVP_PKEY_is_a(&key, "ED25519")) return kEd25519;
  if (EVP_PKEY_is_a(&key, "RSA")) return kSha256WithRsa;
  return absl::InvalidArgumentError("unsupported issuer key type");
}

template <typename T>
absl::StatusOr<std::string> ToDer(int (*i2d)(const T*, unsigned char**),
                                  const T* object, absl::string_view what) {
  unsigned char* der = nullptr;
  const int len = i2d(object, &der);
  if (len <= 0) return OpenSslError(absl::StrCat("cannot encode ", what));
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::StatusOr<std::string> SubjectToDer(const Subject& subject) {
  ASSIGN_OR_RETURN(UniqueX509Name name, SubjectToName(subject));
  return ToDer(i2d_X509_NAME, const_cast<const X509_NAME*>(name.get()),
               "subject");
}

namespace {

// The subjectPublicKey bits of an SPKI, for the key identifier.
absl::StatusOr<absl::string_view> PublicKeyBits(absl::string_view spki) {
  uint8_t tag;
  absl::string_view body, algorithm, bits;
  if (!ReadTlv(&spki, &tag, &body) || tag != kDerSequence ||
      !ReadTlv(&body, &tag, &algorithm) || tag != kDerSequence ||
      !ReadTlv(&body, &tag, &bits) || tag != kDerBitString || bits.empty()) {
    return absl::InternalError("malformed SubjectPublicKeyInfo");
  }
  return bits.substr(1);  // Past the unused-bits octet.
}

std::string KeyUsageBits(int key_usage) {
  // The KU_* values below 0x100 are the first octet of the BIT STRING; DER
  // drops trailing zero bits and counts them in the leading octet.
  const uint8_t bits = static_cast<uint8_t>(key_usage & 0xff);
  int unused = 0;
  while (unused < 7 && (bits & (1 << unused)) == 0) ++unused;
  const char content[2] = {static_cast<char>(unused), static_cast<char>(bits)};
  return Tlv(kDerBitString, absl::string_view(content, 2));
}

absl::Status AppendSerial(std::string* tbs) {
  unsigned char bytes[kSerialBytes];
  RETURN_IF_ERROR(RandomSerial(bytes));
  AppendTlv(tbs, kDerInteger,
            absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BuildLeafDer(const LeafFields& fields,
                                         EVP_PKEY& subject_key, X509& issuer,
                                         EVP_PKEY& issuer_key) {
  if ((fields.key_usage & ~0xff) != 0) {
    return absl::InvalidArgumentError("leaf keyUsage beyond the first octet");
  }
  ASSIGN_OR_RETURN(absl::string_view sig_alg, SignatureAlgorithm(issuer_key));
  ASSIGN_OR_RETURN(
      std::string issuer_name,
      ToDer(i2d_X509_NAME, X509_get_subject_name(&issuer), "issuer"));
  // For keys from GenerateKey (P-256 on EC_KEY) this is a direct encode.
  ASSIGN_OR_RETURN(std::string spki,
                   ToDer(i2d_PUBKEY, const_cast<const EVP_PKEY*>(&subject_key),
                         "public key"));
  ASSIGN_OR_RETURN(absl::string_view key_bits, PublicKeyBits(spki));
  unsigned char ski[EVP_MAX_MD_SIZE];
  unsigned int ski_len = 0;
  if (EVP_Digest(key_bits.data(), key_bits.size(), ski, &ski_len, EVP_sha1(),
                 nullptr) != 1) {
    return OpenSslError("cannot hash public key");
  }
  const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(&issuer);

  std::string names;
  AppendTlv(&names, kUriTag, fields.uri);
  for (const std::string& dns : fields.dns_names) {
    AppendTlv(&names, kDnsNameTag, dns);
  }
  std::string extensions;
  AppendExtension(&extensions, kOidBasicConstraints, true, kEmptySequence);
  AppendExtension(&extensions, kOidKeyUsage, true,
                  KeyUsageBits(fields.key_usage));
  AppendExtension(&extensions, kOidExtKeyUsage, false, kTlsExtKeyUsage);
  // RFC 5280 4.2.1.6: with an empty subject the SAN must be critical.
  const bool empty_subject = fields.subject_der == kEmptySequence;
  AppendExtension(&extensions, kOidSubjectAltName, empty_subject,
                  Tlv(kDerSequence, names));
  AppendExtension(
      &extensions, kOidSubjectKeyId, false,
      Tlv(kDerOctetString,
          absl::string_view(reinterpret_cast<char*>(ski), ski_len)));
  if (issuer_ski != nullptr) {
    const absl::string_view id(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(issuer_ski)),
        static_cast<size_t>(ASN1_STRING_length(issuer_ski)));
    AppendExtension(&extensions, kOidAuthorityKeyId, false,
                    Tlv(kDerSequence, Tlv(kKeyIdTag, id)));
  }

  std::string tbs_body(kVersion3);
  RETURN_IF_ERROR(AppendSerial(&tbs_body));
  tbs_body.append(sig_alg.data(), sig_alg.size());
  tbs_body += issuer_name;
  AppendTlv(&tbs_body, kDerSequence,
            DerTime(fields.not_before) + DerTime(fields.not_after));
  tbs_body += fields.subject_der;
  tbs_body += spki;
  AppendTlv(&tbs_body, kExtensionsTag, Tlv(kDerSequence, extensions));
  const std::string tbs = Tlv(kDerSequence, tbs_body);

  // One signature over the TBS bytes; Ed25519 signs the message itself.
  const EVP_MD* md =
      EVP_PKEY_is_a(&issuer_key, "ED25519") ? nullptr : EVP_sha256();
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  std::string sig(static_cast<size_t>(EVP_PKEY_get_size(&issuer_key)) + 1,
                  '\0');
  size_t sig_len = sig.size() - 1;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, &issuer_key) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&sig[1]),
                     &sig_len,
                     reinterpret_cast<const unsigned char*>(tbs.data()),
                     tbs.size()) != 1) {
    return OpenSslError("cannot sign certificate");
  }
  sig.resize(sig_len + 1);  // sig[0] = 0: no unused bits.

  std::string cert_body = tbs;
  cert_body.append(sig_alg.data(), sig_alg.size());
  AppendTlv(&cert_body, kDerBitString, sig);
  return Tlv(kDerSequence, cert_body);
}

}  // namespace mayfly::identity::internal
