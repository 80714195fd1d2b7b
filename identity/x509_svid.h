// Minting X.509-SVIDs and the CA certificates that sign them.
//
// Leaf SVIDs follow the X.509-SVID spec exactly: one URI SAN (the SPIFFE ID),
// optional DNS SANs, basicConstraints cA=false, keyUsage (critical)
// digitalSignature only (plus keyEncipherment for RSA keys), EKU serverAuth
// and clientAuth, a random 128-bit serial, SKI and AKI, NotBefore backdated by
// kNotBeforeBackdate, and a lifetime capped by the issuer's own NotAfter.
// Signing certificates carry cA=true, keyCertSign and cRLSign, and the trust
// domain's ID as their one URI SAN.
//
// All functions are thread-safe: they share nothing but the Signer's
// certificate and key, which OpenSSL only reads.
#ifndef MAYFLY_IDENTITY_X509_SVID_H_
#define MAYFLY_IDENTITY_X509_SVID_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/keys.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "identity/subject.h"

namespace mayfly::identity {

// SPIRE backdates NotBefore by 10 s to absorb clock skew between hosts.
inline constexpr absl::Duration kNotBeforeBackdate = absl::Seconds(10);
// Default leaf lifetime. SPIRE's default is 1 h; Mayfly's point is minutes.
inline constexpr absl::Duration kDefaultX509SvidTtl = absl::Minutes(5);
// Subject of a leaf whose request names none. The SPIFFE ID lives in the URI
// SAN; an organisation keeps the subject non-empty for tools that need one.
inline constexpr absl::string_view kDefaultSubjectOrganization = "Mayfly";

// An authority that can sign certificates: its certificate, its private key,
// and the certificates between it and the root (excluded), nearest first.
struct Signer {
  UniqueX509 cert;
  UniqueEvpPkey key;
  CertChain intermediates;

  // The signer's NotAfter.
  absl::Time NotAfter() const;
  // True for a self-signed root, which never travels in an SVID chain.
  bool IsRoot() const;
  // What follows a leaf it signs: itself (unless a root), then intermediates.
  CertChain ChainBelowRoot() const;
  Signer Share() const;
};

struct X509SvidRequest {
  SpiffeId id;
  absl::Duration ttl = kDefaultX509SvidTtl;
  std::vector<std::string> dns_names;
  // Empty means O=kDefaultSubjectOrganization.
  Subject subject;
  KeyType key_type = kDefaultKeyType;
};

struct X509Svid {
  SpiffeId id;
  // Leaf first, then the intermediates up to, not including, the root.
  CertChain chain;
  UniqueEvpPkey key;
  absl::Time not_before;
  absl::Time not_after;
};

absl::StatusOr<X509Svid> MintX509Svid(const X509SvidRequest& request,
                                      const Signer& signer, const Clock& clock);

// The same SVID with its leaf as DER, as the Workload API carries it. This is
// the agent's hot path: the leaf never becomes an X509 object, which saves
// OpenSSL 3.0 decoding its public key (see internal/leaf_der.h). On the wire
// the signer's chain (Signer::ChainBelowRoot) follows the leaf; a caller that
// mints many SVIDs from one signer encodes that chain once.
struct X509SvidDer {
  SpiffeId id;
  std::string leaf_der;
  UniqueEvpPkey key;
  absl::Time not_before;
  absl::Time not_after;
};

absl::StatusOr<X509SvidDer> MintX509SvidDer(const X509SvidRequest& request,
                                            const Signer& signer,
                                            const Clock& clock);

// The same for a key the caller does not hold (a CSR's): the leaf certifies
// `public_key` (P-256, Ed25519 or RSA-2048; request.key_type is ignored),
// and the result's `key` is null. What the CSR asked for is the caller's to
// check (identity/csr.h); this signs exactly `request`.
absl::StatusOr<X509SvidDer> MintX509SvidDerForKey(
    const X509SvidRequest& request, const EVP_PKEY& public_key,
    const Signer& signer, const Clock& clock);

struct CaRequest {
  TrustDomain trust_domain;
  absl::Duration ttl;
  // Empty means O=Mayfly, CN=<trust domain> root/intermediate CA.
  Subject subject;
  KeyType key_type = kDefaultKeyType;
};

// A self-signed root for a trust domain.
absl::StatusOr<Signer> MintRootCa(const CaRequest& request, const Clock& clock);

// An intermediate signed by `parent`, capped by the parent's NotAfter. It may
// sign leaves only (pathLenConstraint 0).
absl::StatusOr<Signer> MintIntermediateCa(const CaRequest& request,
                                          const Signer& parent,
                                          const Clock& clock);

// The same for a key held elsewhere (from a CSR: a mayfly-server replica
// keeps its intermediate's private key on its own disk). The result
// certifies `public_key`; nothing else of the CSR is taken.
absl::StatusOr<UniqueX509> MintIntermediateCaForKey(const CaRequest& request,
                                                    const EVP_PKEY& public_key,
                                                    const Signer& parent,
                                                    const Clock& clock);

// Reads a certificate's NotBefore/NotAfter.
absl::Time CertNotBefore(const X509& cert);
absl::Time CertNotAfter(const X509& cert);
// The soonest NotAfter of `certs` (a bundle's roots: the trust that lapses
// first); InfiniteFuture for none.
absl::Time EarliestNotAfter(const CertChain& certs);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_X509_SVID_H_
