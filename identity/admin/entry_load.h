// `mayfly entry load FILE --parent ID`: an agent entries file put on
// mayfly-server, idempotently.
//
// FILE is what the agent reads (an `entries:` document, agent::LoadEntries),
// checked by the agent's rules first: nothing is sent if any entry is wrong.
// Each entry is then matched against the server's entries under the parent
// by its SPIFFE ID, parent and selectors (the identity of an entry in the
// file too, which refuses two alike): no match is created; a match that
// differs in ttl, dns_names, hint or subject is updated (its jwt_ttl, which
// a file cannot say, kept); a match that says the same is left alone.
// Entries on the server that the file does not have are left alone too.
// Prints "N created, M updated, K unchanged".
#ifndef MAYFLY_IDENTITY_ADMIN_ENTRY_LOAD_H_
#define MAYFLY_IDENTITY_ADMIN_ENTRY_LOAD_H_

#include <string>
#include <vector>

namespace mayfly::admin {

int EntryLoad(const std::vector<std::string>& args);

}  // namespace mayfly::admin

#endif  // MAYFLY_IDENTITY_ADMIN_ENTRY_LOAD_H_
