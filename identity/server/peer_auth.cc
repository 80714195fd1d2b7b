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
  std::vector<grpc::string_ref> pem =
      auth == nullptr
          ? std::vector<grpc::string_ref>{}
          : auth->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
  if (pem.empty()) {
    return absl::UnauthenticatedError(
        "no client certificate: call with the agent's X.509-SVID");
  }
  absl::StatusOr<identity::CertChain> chain =
      identity::CertsFromPem(absl::string_view(pem[0].data(), pem[0].size()));
  if (!chain.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate: ", chain.status().message()));
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
