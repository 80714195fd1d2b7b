// FetchJWTSVID's minting, local or by the server: see workload_api.h.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/agent/workload_api.h"
#include "identity/jwt.h"
#include "identity/status_macros.h"

namespace mayfly::agent {

void WorkloadApiService::SetRemoteJwtSigner(RemoteJwtSigner signer) {
  absl::MutexLock lock(&mu_);
  remote_jwt_ = std::move(signer);
}

absl::Status WorkloadApiService::MintJwtSvids(const Attested& attested,
                                              const JWTSVIDRequest& request,
                                              JWTSVIDResponse& response) {
  std::shared_ptr<const SigningState> state = signing();
  RemoteJwtSigner remote;
  {
    absl::MutexLock lock(&mu_);
    remote = remote_jwt_;
  }
  if (state == nullptr || (state->jwt_key == nullptr && remote == nullptr)) {
    return absl::UnavailableError("the agent has no JWT signing key yet");
  }
  std::vector<std::string> audience(request.audience().begin(),
                                    request.audience().end());
  std::vector<std::string> minted_ids;
  for (const RegistrationEntry& entry : registry_.Match(attested.selectors)) {
    const std::string id = entry.id.ToString();
    if (!request.spiffe_id().empty() && id != request.spiffe_id()) continue;
    // Two entries may give the same ID: one token per ID.
    if (absl::c_linear_search(minted_ids, id)) continue;
    // Never longer than the entry's X.509-SVIDs: a removed entry's tokens
    // die with its certificates. MintJwtSvid caps at kMaxJwtSvidTtl too.
    const absl::Duration ttl =
        std::min(registry_.EffectiveTtl(entry), identity::kMaxJwtSvidTtl);
    std::string token;
    if (state->jwt_key != nullptr) {
      ASSIGN_OR_RETURN(token,
                       identity::MintJwtSvid(
                           identity::JwtSvidRequest{entry.id, audience, ttl},
                           *state->jwt_key, clock_));
    } else {
      // Server mode: the server holds the key and sets the lifetime.
      ASSIGN_OR_RETURN(token, remote(entry, audience));
    }
    JWTSVID* out = response.add_svids();
    out->set_spiffe_id(id);
    out->set_svid(std::move(token));
    out->set_hint(entry.hint);
    minted_ids.push_back(id);
  }
  if (minted_ids.empty()) {
    return absl::PermissionDeniedError(
        request.spiffe_id().empty()
            ? "no registration entry matches this workload"
            : absl::StrCat("this workload is not entitled to ",
                           request.spiffe_id()));
  }
  return absl::OkStatus();
}

}  // namespace mayfly::agent
