// Who is calling over the Node TLS port: the peer's X.509-SVID, verified
// against the trust bundle by us (gRPC asks for a client certificate but
// does not verify it, so Attest can run without one).
#ifndef MAYFLY_IDENTITY_SERVER_PEER_AUTH_H_
#define MAYFLY_IDENTITY_SERVER_PEER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/server/proto/server.pb.h"
#include "identity/spiffe_id.h"

namespace mayfly::server {

// The path every agent SPIFFE ID starts with.
inline constexpr char kAgentPathPrefix[] = "/mayfly/agent/";

// The trust bundle a v1::Bundle carries, plus `extra` roots (this replica's
// own, in case the store's bundle lags behind).
absl::StatusOr<identity::X509Bundle> X509BundleOf(
    const identity::TrustDomain& td, const v1::Bundle& bundle,
    const identity::X509Bundle& extra);

// The verified SPIFFE ID of the peer. Unauthenticated if it showed no
// certificate or one that does not verify against `bundle` at `now`.
absl::StatusOr<identity::SpiffeId> PeerSpiffeId(
    const grpc::ServerContext& context, const identity::X509Bundle& bundle,
    absl::Time now);

// A gRPC status from an absl one (same code and message).
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace mayfly::server

#endif  // MAYFLY_IDENTITY_SERVER_PEER_AUTH_H_
