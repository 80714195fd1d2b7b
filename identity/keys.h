// Private keys: generation and PKCS#8 encoding.
//
// P-256 is the default (SPIRE's too, and the cheapest to sign with); Ed25519
// and RSA-2048 are there for peers that need them.
#ifndef MAYFLY_IDENTITY_KEYS_H_
#define MAYFLY_IDENTITY_KEYS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/openssl_util.h"

namespace mayfly::identity {

enum class KeyType {
  kEcP256,
  kEd25519,
  kRsa2048,
};

// The default for every key Mayfly makes.
inline constexpr KeyType kDefaultKeyType = KeyType::kEcP256;

// "p256", "ed25519", "rsa2048" (as written in flags and config files).
absl::StatusOr<KeyType> KeyTypeFromString(absl::string_view name);
absl::string_view KeyTypeName(KeyType type);

absl::StatusOr<UniqueEvpPkey> GenerateKey(KeyType type);

// The type of an existing key, or an error for key types Mayfly does not use.
absl::StatusOr<KeyType> KeyTypeOf(const EVP_PKEY& key);

// Unencrypted PKCS#8, as the Workload API and Kafka's PEM keystores expect.
absl::StatusOr<std::string> PrivateKeyToPkcs8Der(const EVP_PKEY& key);
absl::StatusOr<std::string> PrivateKeyToPkcs8Pem(const EVP_PKEY& key);
absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPkcs8Der(absl::string_view der);
// Accepts "PRIVATE KEY" (PKCS#8) and the traditional EC/RSA PEM forms.
absl::StatusOr<UniqueEvpPkey> PrivateKeyFromPem(absl::string_view pem);

// True when `key` is the private half of `cert`'s public key.
bool KeyMatchesCert(const EVP_PKEY& key, X509& cert);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_KEYS_H_
