// The fleet bench's registration side: join tokens and entries made
// through the replicas' admin sockets (the Registration API), many calls in
// parallel, as an operator's tooling loading a large fleet would.
#ifndef MAYFLY_TESTS_BENCH_FLEET_FLEET_ADMIN_H_
#define MAYFLY_TESTS_BENCH_FLEET_FLEET_ADMIN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "identity/server/proto/server.grpc.pb.h"

namespace mayfly::bench {

class FleetAdmin {
 public:
  // One Registration channel per replica's admin socket.
  explicit FleetAdmin(const std::vector<std::string>& admin_sockets);

  size_t replicas() const { return stubs_.size(); }

  struct Token {
    std::string token;
    std::string agent_id;
  };
  // `n` join tokens, made round robin over the replicas by `threads`
  // threads. Fails on the first token that cannot be made (after retries).
  absl::StatusOr<std::vector<Token>> MakeTokens(int n, int threads);

  // Creates every entry, entry i through replica i % replicas(), with
  // `threads` calls in flight; a call refused with Unavailable or Aborted
  // is retried (3 attempts). Prints progress to stderr every 5 s. Returns
  // how many could not be made.
  int64_t CreateEntries(const std::vector<server::v1::Entry>& entries,
                        int threads);

  // One CreateEntry through replica `replica`.
  absl::StatusOr<server::v1::Entry> CreateEntry(size_t replica,
                                                const server::v1::Entry& entry);

 private:
  std::vector<std::unique_ptr<server::v1::Registration::Stub>> stubs_;
};

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_FLEET_ADMIN_H_
