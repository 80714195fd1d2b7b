// PKCS#10 requests: building (agent side) and parsing (server side).

#include "identity/csr.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/status_macros.h"

namespace mayfly::identity {
namespace {

using UniqueX509Req = OpenSslPtr<X509_REQ, X509_REQ_free>;

void FreeExtensionStack(STACK_OF(X509_EXTENSION) * exts) {
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
using UniqueExtensionStack =
    std::unique_ptr<STACK_OF(X509_EXTENSION), decltype(&FreeExtensionStack)>;

// Appends a GENERAL_NAME of `type` holding `value` to `names`.
absl::Status AddName(GENERAL_NAMES& names, int type, absl::string_view value) {
  UniqueGeneralName name(GENERAL_NAME_new());
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (name == nullptr || text == nullptr ||
      !ASN1_STRING_set(text, value.data(), static_cast<int>(value.size()))) {
    ASN1_IA5STRING_free(text);
    return OpenSslError("building a subjectAltName");
  }
  // GENERAL_NAME_set0_value takes ownership of `text`.
  GENERAL_NAME_set0_value(name.get(), type, text);
  // The stack takes ownership of the name.
  if (!sk_GENERAL_NAME_push(&names, name.get())) {
    return OpenSslError("building a subjectAltName");
  }
  name.release();
  return absl::OkStatus();
}

std::string Ia5(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

}  // namespace

absl::StatusOr<std::string> MakeSvidCsrDer(
    const EVP_PKEY& key, const SpiffeId& id,
    const std::vector<std::string>& dns_names) {
  UniqueX509Req req(X509_REQ_new());
  UniqueGeneralNames names(GENERAL_NAMES_new());
  if (req == nullptr || names == nullptr ||
      !X509_REQ_set_version(req.get(), 0) ||
      !X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(&key))) {
    return OpenSslError("building a CSR");
  }
  RETURN_IF_ERROR(AddName(*names, GEN_URI, id.ToString()));
  for (const std::string& dns : dns_names) {
    RETURN_IF_ERROR(AddName(*names, GEN_DNS, dns));
  }
  UniqueExtensionStack exts(sk_X509_EXTENSION_new_null(), FreeExtensionStack);
  UniqueX509Extension san(
      X509V3_EXT_i2d(NID_subject_alt_name, /*crit=*/0, names.get()));
  if (exts == nullptr || san == nullptr ||
      !sk_X509_EXTENSION_push(exts.get(), san.get())) {
    return OpenSslError("building a CSR's subjectAltName");
  }
  san.release();  // owned by exts now
  if (!X509_REQ_add_extensions(req.get(), exts.get())) {
    return OpenSslError("adding a CSR's extensions");
  }
  const bool needs_digest = EVP_PKEY_get_id(&key) != EVP_PKEY_ED25519;
  if (X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(&key),
                    needs_digest ? EVP_sha256() : nullptr) <= 0) {
    return OpenSslError("signing a CSR");
  }
  const int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return OpenSslError("encoding a CSR");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

absl::StatusOr<ParsedCsr> ParseCsrDer(absl::string_view der) {
  if (der.size() > kMaxCsrBytes) {
    return absl::InvalidArgumentError(absl::StrCat("CSR: ", der.size(),
                                                   " bytes, more than the ",
                                                   kMaxCsrBytes, " allowed"));
  }
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  UniqueX509Req req(d2i_X509_REQ(nullptr, &in, static_cast<long>(der.size())));
  if (req == nullptr ||
      in != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("CSR: not a DER PKCS#10 request");
  }
  ParsedCsr parsed;
  parsed.public_key.reset(X509_REQ_get_pubkey(req.get()));
  if (parsed.public_key == nullptr) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("CSR: its public key cannot be read");
  }
  if (X509_REQ_verify(req.get(), parsed.public_key.get()) != 1) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        "CSR: its signature was not made by the key it carries");
  }
  UniqueExtensionStack exts(X509_REQ_get_extensions(req.get()),
                            FreeExtensionStack);
  DrainOpenSslErrors();  // no extensions at all is not an error
  const int count = exts == nullptr ? 0 : sk_X509_EXTENSION_num(exts.get());
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_basic_constraints) {
      UniqueBasicConstraints bc(
          static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
      if (bc == nullptr) {
        DrainOpenSslErrors();
        return absl::InvalidArgumentError(
            "CSR: its basicConstraints cannot be read");
      }
      parsed.asks_ca |= bc->ca != 0;
    } else if (nid == NID_subject_alt_name) {
      UniqueGeneralNames names(
          static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (names == nullptr) {
        DrainOpenSslErrors();
        return absl::InvalidArgumentError(
            "CSR: its subjectAltName cannot be read");
      }
      for (int j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), j);
        if (name->type == GEN_URI) {
          parsed.uris.push_back(Ia5(name->d.uniformResourceIdentifier));
        } else if (name->type == GEN_DNS) {
          parsed.dns_names.push_back(Ia5(name->d.dNSName));
        } else {
          ++parsed.other_names;
        }
      }
    }
  }
  return parsed;
}

absl::Status CheckCsrMatches(const ParsedCsr& csr, const SpiffeId& id,
                             const std::vector<std::string>& dns_names) {
  if (csr.asks_ca) {
    return absl::PermissionDeniedError("CSR asks for a CA certificate");
  }
  if (csr.uris.size() != 1 || csr.uris[0] != id.ToString()) {
    return absl::PermissionDeniedError(
        absl::StrCat("CSR names URI SANs [", absl::StrJoin(csr.uris, ", "),
                     "]; the entry allows exactly ", id.ToString()));
  }
  if (csr.other_names > 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("CSR carries ", csr.other_names,
                     " subjectAltName(s) that are neither URI nor DNS"));
  }
  std::vector<std::string> asked = csr.dns_names;
  std::vector<std::string> allowed = dns_names;
  std::sort(asked.begin(), asked.end());
  std::sort(allowed.begin(), allowed.end());
  if (asked != allowed) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CSR names DNS SANs [", absl::StrJoin(asked, ", "),
        "]; the entry allows exactly [", absl::StrJoin(allowed, ", "), "]"));
  }
  return absl::OkStatus();
}

}  // namespace mayfly::identity
