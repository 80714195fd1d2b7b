// A client of the SPIFFE Workload API: find the agent's socket, fetch
// X.509-SVIDs, bundles and JWT-SVIDs, each parsed and checked.
//
// The endpoint comes from a flag or SPIFFE_ENDPOINT_SOCKET, as
// "unix:///path", "unix:/path" or a plain absolute path. Every call carries
// the `workload.spiffe.io: true` header.
//
// Thread-safe: one client may be used from many threads.
#ifndef MAYFLY_IDENTITY_WORKLOAD_CLIENT_H_
#define MAYFLY_IDENTITY_WORKLOAD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "third_party/spiffe/workloadapi.grpc.pb.h"

namespace mayfly::identity::workload {

inline constexpr char kEndpointEnv[] = "SPIFFE_ENDPOINT_SOCKET";
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// The gRPC target ("unix:/abs/path") for `flag`, or for
// $SPIFFE_ENDPOINT_SOCKET when `flag` is empty. InvalidArgument names what
// is wrong with the address.
absl::StatusOr<std::string> ResolveEndpoint(absl::string_view flag);

struct X509SvidEntry {
  SpiffeId id;
  CertChain chain;  // leaf first
  UniqueEvpPkey key;
  std::string hint;
};

// One FetchX509SVID message, parsed: SVIDs in the agent's order (the first
// is the default) and the bundles they came with, by trust domain.
struct X509Context {
  std::vector<X509SvidEntry> svids;
  std::map<TrustDomain, X509Bundle> bundles;
  // When the earliest SVID in it expires.
  absl::Time Expiry() const;
};

// Parses and checks a response: each chain's leaf carries the claimed ID,
// each key is its leaf's. InvalidArgument otherwise.
absl::StatusOr<X509Context> ParseX509Response(const X509SVIDResponse& response);

// The status of a failed call, with the agent's code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

class WorkloadClient {
 public:
  // Does not connect yet: gRPC connects on the first call. Call deadlines
  // are read from `clock`'s wall clock (gRPC deadlines are wall-clock
  // times); it must outlive the client.
  static absl::StatusOr<std::unique_ptr<WorkloadClient>> Create(
      absl::string_view endpoint_flag, const Clock& clock = RealClock());

  const std::string& target() const { return target_; }

  // The first message of FetchX509SVID.
  absl::StatusOr<X509Context> FetchX509Context(
      absl::Duration timeout = kDefaultTimeout);
  // The first message of FetchX509Bundles.
  absl::StatusOr<std::map<TrustDomain, X509Bundle>> FetchX509Bundles(
      absl::Duration timeout = kDefaultTimeout);

  // A JWT-SVID for `audience`; for `spiffe_id` when not empty, else for the
  // caller's default identity.
  absl::StatusOr<std::string> FetchJwtSvid(
      const std::string& audience, const std::string& spiffe_id = "",
      absl::Duration timeout = kDefaultTimeout);
  // The agent's verdict on `token`: the SPIFFE ID it was issued to.
  absl::StatusOr<std::string> ValidateJwtSvid(
      const std::string& token, const std::string& audience,
      absl::Duration timeout = kDefaultTimeout);

  SpiffeWorkloadAPI::Stub& stub() { return *stub_; }
  // A context with the security header and a deadline `timeout` from now
  // (none if infinite).
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

 private:
  WorkloadClient(std::string target, std::shared_ptr<grpc::Channel> channel,
                 const Clock& clock)
      : clock_(clock),
        target_(std::move(target)),
        channel_(std::move(channel)),
        stub_(SpiffeWorkloadAPI::NewStub(channel_)) {}

  const Clock& clock_;
  const std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
};

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_CLIENT_H_
