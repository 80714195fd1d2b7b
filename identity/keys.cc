// Key generation and PKCS#8 encoding on OpenSSL 3.0.
//
// P-256 keys are generated through the EC_KEY interface, which OpenSSL 3.0
// deprecates but fully supports. The reason is cost on the minting hot path:
// a provider-native key makes X509_set_pubkey round-trip the public key
// through the OSSL_ENCODER/OSSL_DECODER machinery, which alone costs about as
// much as generating the key and signing the certificate together (measured
// with callgrind on tests/bench/mint_bench). A key built on EC_KEY is encoded
// by the EC method directly. Everything else (signing, PKCS#8, TLS) treats
// both kinds the same.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "identity/keys.h"

#include <openssl/ec.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"

namespace mayfly::identity {
namespace {

// RSA keys are only offered at this size: the smallest still considered
// adequate (NIST SP 800-57), and the slowest option already.
constexpr unsigned kRsaBits = 2048;

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<KeyType> KeyTypeFromString(absl::string_view name) {
  if (name == "p256" || name == "ec-p256") return KeyType::kEcP256;
  if (name == "ed25519") return KeyType::kEd25519;
  if (name == "rsa2048" || name == "rsa-2048") return KeyType::kRsa2048;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown key type \"", name, "\": use p256, ed25519 or rsa2048"));
}

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "p256";
    case KeyType::kEd25519:
      return "ed25519";
    case KeyType::kRsa2048:
      return "rsa2048";
  }
  return "unknown";
}

absl::StatusOr<UniqueEvpPkey> GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcP256: {
      EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
      if (ec == nullptr || EC_KEY_generate_key(ec) != 1) {
        EC_KEY_free(ec);
        break;
      }
      key = EVP_PKEY_new();
      // On success `key` owns `ec`.
      if (key == nullptr || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
        EVP_PKEY_free(key);
        EC_KEY_free(ec);
        key = nullptr;
      }
      break;
    }
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::kRsa2048:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{kRsaBits});
      break;
  }
  if (key == nullptr) {
    return OpenSslError(
        absl::StrCat("cannot generate ", KeyTypeName(type), " key"));
  }
  return UniqueEvpPkey(key);
}

absl::StatusOr<KeyType> KeyTypeOf(const EVP_PKEY& key) {
  if (EVP_PKEY_is_a(&key, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(&key, "RSA")) {
    if (EVP_PKEY_get_bits(&key) == static_cast<int>(kRsaBits)) {
      return KeyType::kRsa2048;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("RSA key has ", EVP_PKEY_get_bits(&key), " bits; only ",
                     kRsaBits, " is supported"));
  }
  if (EVP_PKEY_is_a(&key, "EC")) {
    char curve[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(&key, "group", curve, sizeof(curve),
                                       &len) == 1 &&
        absl::string_view(curve, len) == "prime256v1") {
      return KeyType::kEcP256;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "EC key on curve \"", curve, "\"; only P-256 is supported"));
  }
  return absl::InvalidArgumentError("unsupported key algorithm");
}

absl::StatusOr<std::string> PrivateKeyToPkcs8Der(const EVP_PKEY& key) {
  unsigned char* der = nullptr;
  // i2d_PrivateKey would pick the traditional format for EC and RSA keys;
  // going through PKCS8_PRIV_KEY_INFO guarantees PKCS#8.
  PKCS8_PRIV_KEY_INFO* info = EVP_PKEY2PKCS8(&key);
  if (info == nullptr) return OpenSslError("cannot encode key as PKCS#8");
  const int len = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (len <= 0) return OpenSslError("cannot encode key as PKCS#8");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  return out;
}

absl::StatusOr<std::string> PrivateKeyToPkcs8Pem(const EVP_PKEY& key) {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return OpenSslError("cannot encode key as PEM");
  }
  return BioContents(bio.get());
}

absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPkcs8Der(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS8_PRIV_KEY_INFO* info =
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  if (info == nullptr) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("private key is not PKCS#8 DER");
  }
  EVP_PKEY* key = EVP_PKCS82PKEY(info);
  PKCS8_PRIV_KEY_INFO_free(info);
  if (key == nullptr) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError("PKCS#8 private key is unusable");
  }
  return UniqueEvpPkey(key);
}

absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPem(absl::string_view pem) {
  UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return OpenSslError("cannot read PEM");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        "no unencrypted PEM private key found (expected \"-----BEGIN PRIVATE "
        "KEY-----\")");
  }
  return UniqueEvpPkey(key);
}

bool KeyMatchesCert(const EVP_PKEY& key, X509& cert) {
  const bool match = X509_check_private_key(&cert, &key) == 1;
  DrainOpenSslErrors();
  return match;
}

}  // namespace mayfly::identity
