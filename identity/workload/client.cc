// Workload API client: see client.h.
#include "identity/workload/client.h"

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/x509_svid.h"
#include "identity/x509_verify.h"

namespace mayfly::identity::workload {
namespace {

// The SPIFFE Workload Endpoint spec allows "unix:" URIs with no authority,
// query or fragment; we also take a bare absolute path.
absl::StatusOr<std::string> UnixTarget(absl::string_view address,
                                       absl::string_view source) {
  absl::string_view path = address;
  if (absl::ConsumePrefix(&path, "unix://")) {
    if (!absl::StartsWith(path, "/")) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, " \"", address,
          "\": a unix:// address has no host; write unix:///path"));
    }
  } else if (absl::ConsumePrefix(&path, "unix:")) {
  } else if (absl::StrContains(address, "://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " \"", address, "\": only unix: addresses are supported"));
  }
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " \"", address, "\": the socket path must be absolute"));
  }
  if (absl::StrContains(path, "?") || absl::StrContains(path, "#")) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " \"", address, "\": no query or fragment allowed"));
  }
  return absl::StrCat("unix:", path);
}

// The first message of a server stream; the rest is not wanted.
template <typename Response>
absl::StatusOr<Response> FirstMessage(
    grpc::ClientContext& context,
    std::unique_ptr<grpc::ClientReader<Response>> reader) {
  Response response;
  if (!reader->Read(&response)) return FromGrpcStatus(reader->Finish());
  context.TryCancel();
  reader->Finish();
  return response;
}

}  // namespace

absl::StatusOr<std::string> ResolveEndpoint(absl::string_view flag) {
  if (!flag.empty()) return UnixTarget(flag, "--socket");
  const char* env = std::getenv(kEndpointEnv);
  if (env == nullptr || *env == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("no Workload API socket: pass --socket or set ",
                     kEndpointEnv, "=unix:///path/to/api.sock"));
  }
  return UnixTarget(env, kEndpointEnv);
}

absl::Time X509Context::Expiry() const {
  absl::Time soonest = absl::InfiniteFuture();
  for (const X509SvidEntry& svid : svids) {
    soonest = std::min(soonest, CertNotAfter(*svid.chain[0]));
  }
  return soonest;
}

absl::StatusOr<X509Context> ParseX509Response(
    const X509SVIDResponse& response) {
  X509Context context;
  if (response.svids_size() == 0) {
    return absl::InvalidArgumentError("response holds no SVID");
  }
  for (int i = 0; i < response.svids_size(); ++i) {
    const X509SVID& in = response.svids(i);
    const std::string where = absl::StrCat("svids[", i, "]");
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(in.spiffe_id());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".spiffe_id: ", id.status().message()));
    }
    absl::StatusOr<CertChain> chain = CertsFromDer(in.x509_svid());
    if (!chain.ok() || chain->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".x509_svid: not a DER certificate chain"));
    }
    absl::StatusOr<SpiffeId> leaf_id = SpiffeIdFromCert(*(*chain)[0]);
    if (!leaf_id.ok() || *leaf_id != *id) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": the leaf certificate is not for ", in.spiffe_id()));
    }
    absl::StatusOr<UniqueEvpPkey> key =
        PrivateKeyFromPkcs8Der(in.x509_svid_key());
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".x509_svid_key: ", key.status().message()));
    }
    if (X509_check_private_key((*chain)[0].get(), key->get()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the key is not the leaf's"));
    }
    if (context.bundles.count(id->trust_domain()) == 0) {
      absl::StatusOr<X509Bundle> bundle =
          X509Bundle::FromDer(id->trust_domain(), in.bundle());
      if (!bundle.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".bundle: ", bundle.status().message()));
      }
      context.bundles.emplace(id->trust_domain(), *std::move(bundle));
    }
    context.svids.push_back(X509SvidEntry{*std::move(id), *std::move(chain),
                                          *std::move(key), in.hint()});
  }
  for (const auto& [td_id, der] : response.federated_bundles()) {
    absl::StatusOr<SpiffeId> td = SpiffeId::FromString(td_id);
    absl::StatusOr<TrustDomain> trust_domain =
        td.ok() ? td->trust_domain() : TrustDomain::FromString(td_id);
    if (!trust_domain.ok()) continue;
    absl::StatusOr<X509Bundle> bundle = X509Bundle::FromDer(*trust_domain, der);
    if (bundle.ok()) context.bundles.emplace(*trust_domain, *std::move(bundle));
  }
  return context;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::StatusOr<std::unique_ptr<WorkloadClient>> WorkloadClient::Create(
    absl::string_view endpoint_flag, const Clock& clock) {
  ASSIGN_OR_RETURN(std::string target, ResolveEndpoint(endpoint_flag));
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  return std::unique_ptr<WorkloadClient>(
      new WorkloadClient(std::move(target), std::move(channel), clock));
}

std::unique_ptr<grpc::ClientContext> WorkloadClient::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("workload.spiffe.io", "true");
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(clock_.Now() + timeout));
  }
  return context;
}

absl::StatusOr<X509Context> WorkloadClient::FetchX509Context(
    absl::Duration timeout) {
  auto context = NewContext(timeout);
  ASSIGN_OR_RETURN(
      X509SVIDResponse response,
      FirstMessage(*context,
                   stub_->FetchX509SVID(context.get(), X509SVIDRequest())));
  return ParseX509Response(response);
}

absl::StatusOr<std::map<TrustDomain, X509Bundle>>
WorkloadClient::FetchX509Bundles(absl::Duration timeout) {
  auto context = NewContext(timeout);
  ASSIGN_OR_RETURN(
      X509BundlesResponse response,
      FirstMessage(*context, stub_->FetchX509Bundles(context.get(),
                                                     X509BundlesRequest())));
  std::map<TrustDomain, X509Bundle> out;
  for (const auto& [td_id, der] : response.bundles()) {
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(td_id);
    absl::StatusOr<TrustDomain> td =
        id.ok() ? id->trust_domain() : TrustDomain::FromString(td_id);
    if (!td.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundles: \"", td_id,
                       "\" is not a trust domain: ", td.status().message()));
    }
    ASSIGN_OR_RETURN(X509Bundle bundle, X509Bundle::FromDer(*td, der));
    out.emplace(*td, std::move(bundle));
  }
  return out;
}

absl::StatusOr<std::string> WorkloadClient::FetchJwtSvid(
    const std::string& audience, const std::string& spiffe_id,
    absl::Duration timeout) {
  auto context = NewContext(timeout);
  JWTSVIDRequest request;
  request.add_audience(audience);
  request.set_spiffe_id(spiffe_id);
  JWTSVIDResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub_->FetchJWTSVID(context.get(), request, &response)));
  if (response.svids_size() == 0) {
    return absl::InvalidArgumentError("response holds no JWT-SVID");
  }
  return response.svids(0).svid();
}

absl::StatusOr<std::string> WorkloadClient::ValidateJwtSvid(
    const std::string& token, const std::string& audience,
    absl::Duration timeout) {
  auto context = NewContext(timeout);
  ValidateJWTSVIDRequest request;
  request.set_svid(token);
  request.set_audience(audience);
  ValidateJWTSVIDResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      stub_->ValidateJWTSVID(context.get(), request, &response)));
  return response.spiffe_id();
}

}  // namespace mayfly::identity::workload
