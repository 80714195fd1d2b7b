// x509pop attestation, the agent's half: the node certificate it shows and
// its answer to the server's challenge.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_X509POP_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_X509POP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/openssl_util.h"

namespace mayfly::agent::remote {

// What the agent signs, before the nonce (server.proto, X509PopChallenge);
// the NUL is part of it.
inline constexpr absl::string_view kX509PopContext{"mayfly x509pop v1\0", 18};

// The signature over kX509PopContext || nonce with `key`: ECDSA and RSA-PSS
// over SHA-256, Ed25519 as is.
absl::StatusOr<std::string> SignX509PopChallenge(const EVP_PKEY& key,
                                                 absl::string_view nonce);

}  // namespace mayfly::agent::remote

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_X509POP_H_
