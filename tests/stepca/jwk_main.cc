// stepca_jwk KEY.pem: prints the public JWK of a P-256 provisioner key, kid
// included, as step-ca's ca.json wants it under a JWK provisioner's "key".
// The e2e test writes ca.json with it, so no `step` CLI is needed.
#include <iostream>

#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/server/upstream/stepca.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: stepca_jwk KEY.pem\n";
    return 2;
  }
  auto pem = mayfly::identity::ReadFile(argv[1]);
  if (!pem.ok()) {
    std::cerr << pem.status().message() << "\n";
    return 1;
  }
  auto key = mayfly::identity::PrivateKeyFromPem(*pem);
  if (!key.ok()) {
    std::cerr << argv[1] << ": " << key.status().message() << "\n";
    return 1;
  }
  auto jwk = mayfly::server::upstream::PublicJwk(**key);
  if (!jwk.ok()) {
    std::cerr << argv[1] << ": " << jwk.status().message() << "\n";
    return 1;
  }
  std::cout << *jwk << "\n";
  return 0;
}
