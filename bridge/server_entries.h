// Stock mode for entries held by mayfly-server: the subjects that
// RenderStockEntries gives an agent entries file, computed for the server's
// entries instead, as the UpdateEntry calls that would apply them.
//
// The same rules as for a file (stock.h), by the same code: each entry is
// rendered through RenderStockEntries, so a mapped, expressible ID gets the
// marked subject, and a denied or unexpressible one loses a marked subject
// it had (an unmarked one is kept).
#ifndef MAYFLY_BRIDGE_SERVER_ENTRIES_H_
#define MAYFLY_BRIDGE_SERVER_ENTRIES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "bridge/policy.h"
#include "bridge/stock.h"
#include "identity/server/proto/server.pb.h"

namespace mayfly::bridge {

struct ServerEntriesRender {
  // One report per entry, in order; each source is "entry ID".
  StockEntries report;
  // The entries whose subject changes, with the new subject, every other
  // field as the server had it (UpdateEntry replaces them all).
  std::vector<server::v1::Entry> updates;
  int unchanged = 0;
};

absl::StatusOr<ServerEntriesRender> RenderServerEntries(
    const Policy& policy, const std::vector<server::v1::Entry>& entries);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_SERVER_ENTRIES_H_
