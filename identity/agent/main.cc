// mayfly-agent: the per-node SPIFFE Workload API daemon.
//
// The server itself arrives with the agent issue. Until then this binary
// links the generated Workload API code, so the build proves the proto
// toolchain works, and says plainly that it serves nothing yet.
#include <iostream>

#include "third_party/spiffe/workloadapi.grpc.pb.h"

int main() {
  const char* service = SpiffeWorkloadAPI::service_full_name();
  std::cerr << "mayfly-agent: the " << service
            << " server is not built yet; use `mayfly svid mint` for now\n";
  return 2;
}
