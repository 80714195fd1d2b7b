// libFuzzer target: X.509-SVID verification on arbitrary certificate lists.
//
// The input is a list of certificates (concatenated DER, or PEM when it
// starts with '-'). When the last one is a CA it becomes the trust bundle and
// the rest the chain, so seeds minted by Mayfly reach the success path; the
// fuzzer then mutates the certificates themselves. Verification must never
// crash, and whatever it accepts must satisfy the X.509-SVID leaf rules.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/bundle.h"
#include "identity/pem.h"
#include "identity/x509_verify.h"

namespace {

using mayfly::identity::CertChain;

// Seeds were minted in 2026 with minutes-long lifetimes; verify at a fixed
// instant inside that window so results do not depend on when this runs.
absl::Time VerificationTime() {
  return absl::FromUnixSeconds(1795525000);  // 2026-11-24T12:56:40Z
}

void Check(bool condition) {
  if (!condition) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<CertChain> certs = !input.empty() && input[0] == '-'
                                        ? mayfly::identity::CertsFromPem(input)
                                        : mayfly::identity::CertsFromDer(input);
  if (!certs.ok() || certs->size() < 2) return 0;

  mayfly::identity::UniqueX509 root = std::move(certs->back());
  certs->pop_back();
  absl::StatusOr<mayfly::identity::SpiffeId> leaf_id =
      mayfly::identity::SpiffeIdFromCert(*(*certs)[0]);
  auto td = leaf_id.ok() ? leaf_id->trust_domain()
                         : *mayfly::identity::TrustDomain::FromString("fuzz");
  absl::StatusOr<mayfly::identity::X509Bundle> bundle =
      mayfly::identity::X509Bundle::FromDer(td,
                                            mayfly::identity::CertToDer(*root));
  if (!bundle.ok()) return 0;

  absl::StatusOr<mayfly::identity::VerifiedSvid> verified =
      mayfly::identity::VerifyX509Svid(*certs, *bundle, VerificationTime());
  if (!verified.ok()) {
    const absl::StatusCode code = verified.status().code();
    Check(code == absl::StatusCode::kInvalidArgument ||
          code == absl::StatusCode::kUnauthenticated);
    return 0;
  }
  // Accepted: the leaf rules must hold.
  X509* leaf = (*certs)[0].get();
  Check(leaf_id.ok() && verified->id == *leaf_id);
  Check(mayfly::identity::UriSans(*leaf).size() == 1);
  Check(X509_check_ca(leaf) == 0);
  Check((X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE) != 0);
  Check((X509_get_key_usage(leaf) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) == 0);
  Check(verified->chain.size() >= 2);
  Check(X509_cmp(verified->chain.back().get(), root.get()) == 0);
  Check(verified->expiry >= VerificationTime());
  return 0;
}
