// Stock mode: a Kafka broker without any Mayfly plugin gives a client the
// policy's principal, read from the subject DN of its SVID.
//
// A stock broker builds the principal from the certificate's subject DN in
// RFC 2253 form, rewritten by `ssl.principal.mapping.rules`; it never looks
// at the URI SAN that holds the SPIFFE ID. So the policy is rendered twice:
//
// - For the broker, one rule and no DEFAULT:
//     RULE:^CN=([A-Za-z0-9._-]{1,64}),OU=mayfly-kafka-principal$/$1/
//   A DN without the marker OU matches no rule, and Kafka refuses the
//   connection (SslPrincipalMapper throws NoMatchingRule); it never falls
//   back to the DN itself.
// - For the agent, a subject per entry: "OU=mayfly-kafka-principal,CN=NAME"
//   where the policy maps the entry's ID to User:NAME. The agent encodes
//   the attributes in that order; RFC 2253 prints them last first, as
//   "CN=NAME,OU=mayfly-kafka-principal" (checked on Kafka 4.4.0's
//   SslPrincipalMapper and in stock_test).
//
// Only "User:NAME" with NAME matching [A-Za-z0-9._-]{1,64} is expressible:
// the stock builder makes User principals only, a CN holds at most 64
// characters (RFC 5280 ub-common-name), and these characters need no
// RFC 2253 escaping. An entry whose ID the policy denies, or maps to a
// principal that is not expressible, gets no marked subject, so the broker
// refuses it: stock mode never yields a principal the policy does not.
//
// Trust is per CA here: any CA in the broker's truststore can sign any
// subject, so every CA there must be one whose entries are rendered by this
// policy (the plugin, which reads the URI SAN and the trust domain, has no
// such limit).
#ifndef MAYFLY_BRIDGE_STOCK_H_
#define MAYFLY_BRIDGE_STOCK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/policy.h"

namespace mayfly::bridge {

// The OU value that marks a subject as rendered from the policy.
inline constexpr absl::string_view kStockMarker = "mayfly-kafka-principal";
// The broker's ssl.principal.mapping.rules, exactly.
inline constexpr absl::string_view kStockMappingRule =
    "RULE:^CN=([A-Za-z0-9._-]{1,64}),OU=mayfly-kafka-principal$/$1/";
// RFC 5280 ub-common-name.
inline constexpr size_t kMaxStockNameLength = 64;

// The entry subject that gives `principal` on a stock broker:
// "OU=mayfly-kafka-principal,CN=NAME". FailedPrecondition saying why when
// the principal is not expressible.
absl::StatusOr<std::string> StockSubject(absl::string_view principal);

struct StockOptions {
  // Where `mayfly watch x509 --write` keeps the broker's SVID files.
  std::string svid_dir;
  // Empty: the ssl.* keys apply to every SSL listener. Otherwise they are
  // prefixed "listener.name.<lowercase NAME>.", as KIP-226 reloads need.
  std::string listener;
  // Named in the header comment: the policy file.
  std::string policy_source;
};

// The broker properties for stock mode, with "#" comment lines saying why.
std::string RenderStockProperties(const Policy& policy,
                                  const StockOptions& options);

// What rendering did to one entry.
struct StockEntry {
  enum class Outcome {
    kSubject,        // mapped and expressible: marked subject set
    kDenied,         // the policy denies the ID: no marked subject
    kUnexpressible,  // mapped, but not to a stock principal: none either
  };
  Outcome outcome = Outcome::kSubject;
  std::string source;     // "FILE:LINE" of the entry
  std::string spiffe_id;  // as written
  std::string principal;  // set for kSubject and kUnexpressible
  std::string detail;     // the subject, the denial, or why not expressible
  bool removed_marked_subject = false;  // a marked subject was taken away
  // kSubject: the different subject the entry had before, if any.
  std::string replaced_subject;
};

struct StockEntries {
  std::string yaml;  // the rewritten document
  std::vector<StockEntry> entries;
  int unexpressible = 0;
  int denied = 0;
};

// Rewrites an agent entries file (or an agent config with inline entries):
// each entry's `subject` is set to StockSubject of its principal; an entry
// whose ID is denied or whose principal is not expressible keeps no
// subject carrying the marker (one is removed; an unmarked subject, which
// no rule matches, is kept). Other keys are kept as they are; comments and
// formatting are not (yaml-cpp emits the document anew). Errors name
// FILE:LINE: FIELD.
absl::StatusOr<StockEntries> RenderStockEntries(const Policy& policy,
                                                absl::string_view yaml,
                                                absl::string_view source);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_STOCK_H_
