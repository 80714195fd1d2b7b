// Where the registry's X.509-SVIDs come from.
//
// In single-node mode the agent mints them itself with the intermediate of
// its SigningState (LocalSvidSource). In server mode mayfly-server signs
// them and a remote source (remote/remote_svid_source.h) hands out what it
// fetched ahead of use.
//
// Get is called with the registry's lock held, for every SVID a response
// needs that the registry does not hold: it must answer from memory (or
// with CPU work, as minting is), never wait on the network. A source that
// cannot answer yet returns Unavailable; a source that will never answer
// for this entry (the agent was evicted) returns PermissionDenied, which
// ends the workloads' streams.
#ifndef MAYFLY_IDENTITY_AGENT_SVID_SOURCE_H_
#define MAYFLY_IDENTITY_AGENT_SVID_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/agent/signing_state.h"
#include "identity/clock.h"
#include "identity/spiffe_id.h"
#include "identity/subject.h"

namespace mayfly::agent {

struct RegistrationEntry {
  identity::SpiffeId id;
  // Canonical "unix:KIND:VALUE" strings, sorted, without duplicates.
  std::vector<std::string> selectors;
  absl::Duration ttl;
  std::vector<std::string> dns_names;
  std::string hint;
  identity::Subject subject;
  // "FILE:LINE" where the entry was written, for logs.
  std::string source;
  // The server's ID of the entry (server mode); empty in single-node mode.
  std::string entry_id;

  // Two entries with the same key share an SVID across a reload.
  std::string Key() const;
};

struct SvidMaterial {
  std::string leaf_der;
  std::string key_der;  // PKCS#8
  // What follows the leaf on the wire: the chain below the root, DER,
  // concatenated. Shared by every SVID with the same issuer.
  std::shared_ptr<const std::string> chain_der;
  absl::Time not_after;
  // When the registry should ask the source again. InfinitePast: the
  // registry picks (half the granted lifetime, with jitter). A source that
  // renews by itself sets not_after here and calls Registry::SvidsChanged
  // when it holds a newer SVID.
  absl::Time renew_at = absl::InfinitePast();
};

class SvidSource {
 public:
  virtual ~SvidSource() = default;
  // An SVID for `entry` valid for `ttl` (or less, as the issuer allows).
  // `signing` is the registry's current state, never null.
  virtual absl::StatusOr<SvidMaterial> Get(const RegistrationEntry& entry,
                                           absl::Duration ttl,
                                           const SigningState& signing) = 0;
};

// Mints with signing.signer: the single-node agent.
class LocalSvidSource : public SvidSource {
 public:
  explicit LocalSvidSource(const identity::Clock& clock) : clock_(clock) {}
  absl::StatusOr<SvidMaterial> Get(const RegistrationEntry& entry,
                                   absl::Duration ttl,
                                   const SigningState& signing) override;

 private:
  const identity::Clock& clock_;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_SVID_SOURCE_H_
