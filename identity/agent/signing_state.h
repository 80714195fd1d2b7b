// What the agent signs with and what it tells workloads to trust, as one
// immutable snapshot.
//
// The authority (authority.h) publishes a new snapshot when its intermediate
// renews or the trust bundle changes; everything that mints or answers holds
// a shared_ptr to the snapshot it started with, so a renewal in the middle of
// a response never mixes two states.
#ifndef MAYFLY_IDENTITY_AGENT_SIGNING_STATE_H_
#define MAYFLY_IDENTITY_AGENT_SIGNING_STATE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "identity/bundle.h"
#include "identity/jwt.h"
#include "identity/x509_svid.h"

namespace mayfly::agent {

struct SigningState {
  // Signs leaves. Never a root: the root key stays with the upstream
  // authority.
  std::shared_ptr<const identity::Signer> signer;
  // The DER of signer->ChainBelowRoot(), concatenated: what follows every
  // leaf on the wire. Encoded once per intermediate, not once per SVID.
  std::string chain_der;
  // Every root of the trust domain, concatenated DER, as the Workload API
  // carries a bundle.
  identity::X509Bundle bundle;
  std::string bundle_der;
  // Bumped whenever bundle_der changes; watchers report the generation they
  // last received, which is how a root rotation knows everyone has the new
  // root.
  uint64_t bundle_generation = 0;
  // Signs JWT-SVIDs; the JWT bundle holds its public half.
  std::shared_ptr<const identity::JwtSigningKey> jwt_key;
  std::shared_ptr<const identity::JwtBundle> jwt_bundle;
  // jwt_bundle as a JWK set (JSON), as FetchJWTBundles carries it.
  std::string jwt_bundle_jwks;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_SIGNING_STATE_H_
