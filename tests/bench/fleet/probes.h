// What the fleet bench reads off the processes it measures: etcd's own
// request counters (its /metrics endpoint) and a process's CPU time and RSS
// (/proc/PID/stat, /proc/PID/status).
#ifndef MAYFLY_TESTS_BENCH_FLEET_PROBES_H_
#define MAYFLY_TESTS_BENCH_FLEET_PROBES_H_

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace mayfly::bench {

// grpc_server_handled_total of the etcd member serving clients on
// 127.0.0.1:`port`, summed over codes, by method ("Range", "Txn", ...).
absl::StatusOr<std::map<std::string, double>> EtcdHandledByMethod(int port);

// utime + stime of `pid`, in seconds; -1 if it cannot be read.
double ProcCpuSeconds(pid_t pid);
// VmRSS of `pid` in kB; -1 if it cannot be read.
long ProcRssKb(pid_t pid);

}  // namespace mayfly::bench

#endif  // MAYFLY_TESTS_BENCH_FLEET_PROBES_H_
