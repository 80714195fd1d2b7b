// Peer SVIDs from gRPC's auth context, verified with identity/x509_verify.
#include "identity/server/peer_auth.h"

#include "absl/strings/str_cat.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_verify.h"

namespace mayfly::server {

absl::StatusOr<identity::X509Bundle> X509BundleOf(
    const identity::TrustDomain& td, const v1::Bundle& bundle,
    const identity::X509Bundle& extra) {
  identity::X509Bundle out(td);
  for (const std::string& der : bundle.x509_roots()) {
    ASSIGN_OR_RETURN(identity::CertChain certs, identity::CertsFromDer(der));
    for (const identity::UniqueX509& c : certs) out.AddRoot(*c);
  }
  for (const identity::UniqueX509& c : extra.roots()) out.AddRoot(*c);
  return out;
}

absl::StatusOr<identity::SpiffeId> PeerSpiffeId(
    const grpc::ServerContext& context, const identity::X509Bundle& bundle,
    absl::Time now) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  auto property = [&](const char* name) -> std::string {
    if (auth == nullptr) return "";
    std::vector<grpc::string_ref> values = auth->FindPropertyValues(name);
    return values.empty() ? ""
                          : std::string(values[0].data(), values[0].size());
  };
  const std::string leaf_pem = property(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (leaf_pem.empty()) {
    return absl::UnauthenticatedError(
        "no client certificate: call with the agent's X.509-SVID");
  }
  // The leaf, then the rest of what the peer sent. On the server side
  // OpenSSL's peer chain leaves the leaf out; on some builds it is in.
  absl::StatusOr<identity::CertChain> chain = identity::CertsFromPem(leaf_pem);
  absl::StatusOr<identity::CertChain> rest =
      identity::CertsFromPem(property(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME));
  if (!chain.ok() || chain->size() != 1) {
    return absl::UnauthenticatedError("client certificate does not parse");
  }
  if (rest.ok()) {
    for (identity::UniqueX509& c : *rest) {
      if (X509_cmp(c.get(), (*chain)[0].get()) != 0) {
        chain->push_back(std::move(c));
      }
    }
  }
  absl::StatusOr<identity::VerifiedSvid> svid =
      identity::VerifyX509Svid(*chain, bundle, now);
  if (!svid.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client SVID: ", svid.status().message()));
  }
  return svid->id;
}

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace mayfly::server
