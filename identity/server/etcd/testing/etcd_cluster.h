// A real etcd cluster for tests: three /usr/bin/etcd members on 127.0.0.1,
// with ports chosen at run time and data under a directory the test owns
// ($TEST_TMPDIR). tests/cluster/lib/etcd.sh is the shell twin.
//
// Each member runs in a process group of its own and gets SIGKILL when the
// thread that started it exits (PR_SET_PDEATHSIG), so a crashed test leaks
// no etcd; the destructor SIGKILLs and reaps every member. Start the
// cluster on a thread that lives as long as it (the main thread, or gtest's
// SetUpTestSuite). Every wait is bounded. Not thread-safe.
#ifndef MAYFLY_IDENTITY_SERVER_ETCD_TESTING_ETCD_CLUSTER_H_
#define MAYFLY_IDENTITY_SERVER_ETCD_TESTING_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "third_party/etcd/rpc.grpc.pb.h"

namespace mayfly::server::testing {

class EtcdCluster {
 public:
  static constexpr int kMembers = 3;

  struct Options {
    // Data directories and logs (m0/, m0.log, ...); created if missing.
    std::string dir;
    std::string etcd = "/usr/bin/etcd";
    // etcd's --experimental-watch-progress-notify-interval (its default is
    // 10 minutes; tests want to see one).
    absl::Duration progress_notify_interval = absl::Minutes(10);
    // Clients must use TLS: Start makes a CA, a server certificate for
    // 127.0.0.1 and a client certificate under DIR/tls (with
    // /usr/bin/openssl), and members serve https and require a client
    // certificate from that CA. Peers talk plain http.
    bool tls = false;
    // How long Start waits for every member to see a leader, per attempt.
    absl::Duration start_timeout = absl::Seconds(30);
  };

  // Starts the members and waits until each reports a leader. If a member
  // exits first (a port taken between choosing and binding it), starts
  // again on other ports, three attempts in all.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(
      const Options& options);

  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // With Options::tls: PEM files a client uses (CA, certificate, key).
  std::string ca_file() const { return options_.dir + "/tls/ca.pem"; }
  std::string client_cert_file() const {
    return options_.dir + "/tls/client.pem";
  }
  std::string client_key_file() const {
    return options_.dir + "/tls/client.key";
  }

  // Client endpoints, "127.0.0.1:PORT", member i at index i.
  std::vector<std::string> endpoints() const;
  bool running(int i) const { return members_[i].pid > 0; }

  // The index of the member that is leader by its own account, waiting up
  // to `timeout` for one; only running members are asked.
  absl::StatusOr<int> Leader(absl::Duration timeout);

  // SIGKILLs member i's process group and reaps it.
  absl::Status Kill(int i);
  // Starts member i again (same ports and data) and waits up to `timeout`
  // until it reports a leader.
  absl::Status Restart(int i, absl::Duration timeout);

  // Compacts the store's history up to `revision` (etcd Compact, physical)
  // through any running member.
  absl::Status Compact(int64_t revision);

 private:
  struct Member {
    std::string name;
    std::string data_dir;
    std::string log;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
  };

  explicit EtcdCluster(Options options) : options_(std::move(options)) {}

  // Picks ports, starts every member, waits. Kills them all on failure.
  absl::Status MakeCertificates();
  absl::Status TryStart();
  absl::Status Spawn(int i);
  // Waits until member i reports a leader, or exits, or `timeout` passes.
  absl::Status WaitServing(int i, absl::Duration timeout);
  void KillAll();

  const Options options_;
  std::string token_;  // --initial-cluster-token of the running attempt
  Member members_[kMembers];
};

}  // namespace mayfly::server::testing

#endif  // MAYFLY_IDENTITY_SERVER_ETCD_TESTING_ETCD_CLUSTER_H_
