// The one rule every X509SvidSource applies before serving an SVID: an
// expired SVID is reported, not served (see x509_svid_source.h).
#ifndef MAYFLY_IDENTITY_WORKLOAD_SVID_EXPIRY_H_
#define MAYFLY_IDENTITY_WORKLOAD_SVID_EXPIRY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "identity/x509_svid.h"

namespace mayfly::identity::workload {

// `svid` if it is still valid at `now`. Unavailable when there is none yet
// or it has expired; `why` (the last error, if any) ends the message.
inline absl::StatusOr<std::shared_ptr<const X509Svid>> ServeUnexpired(
    std::shared_ptr<const X509Svid> svid, absl::Time now,
    absl::string_view why) {
  const std::string suffix =
      why.empty() ? "" : absl::StrCat(" (last error: ", why, ")");
  if (svid == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("no X.509-SVID received yet", suffix));
  }
  // RFC 5280 4.1.2.5: the certificate is valid through NotAfter inclusive.
  if (now > svid->not_after) {
    return absl::UnavailableError(
        absl::StrCat("the X.509-SVID for ", svid->id.ToString(), " expired at ",
                     absl::FormatTime(absl::RFC3339_sec, svid->not_after,
                                      absl::UTCTimeZone()),
                     " and no new one has arrived", suffix));
  }
  return svid;
}

}  // namespace mayfly::identity::workload

#endif  // MAYFLY_IDENTITY_WORKLOAD_SVID_EXPIRY_H_
