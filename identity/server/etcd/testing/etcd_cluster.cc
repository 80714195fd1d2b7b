// Starts, watches and kills the etcd processes of EtcdCluster.
#include "identity/server/etcd/testing/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"

namespace mayfly::server::testing {
namespace {

using identity::UniqueFd;

// Between two polls of a member that is not serving yet.
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
// The deadline of one Status or Compact call.
constexpr absl::Duration kCallTimeout = absl::Seconds(2);
// gRPC waits 1 s (then longer) before reconnecting to a member that was
// not listening yet; members come up in well under that. (Not the minimum:
// gRPC also takes that as the connect timeout.)
constexpr int kReconnectBackoffMs = 100;
constexpr int kStartAttempts = 3;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// `n` distinct loopback ports that were free a moment ago: all are bound
// at once (port 0: the kernel picks) and released together.
absl::StatusOr<std::vector<int>> FreePorts(int n) {
  std::vector<UniqueFd> sockets;
  std::vector<int> ports;
  for (int i = 0; i < n; ++i) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return ErrnoStatus("bind 127.0.0.1:0");
    }
    ports.push_back(ntohs(addr.sin_port));
    sockets.push_back(std::move(fd));
  }
  return ports;
}

std::string Url(int port, bool tls = false) {
  return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port);
}

// Runs `argv` (a full path first) and waits for it; its output goes to
// `log`.
absl::Status Run(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  UniqueFd out(
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out.valid()) return ErrnoStatus(absl::StrCat("open ", log));
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    dup2(out.get(), STDOUT_FILENO);
    dup2(out.get(), STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        absl::StrJoin(argv, " "), " failed (status ", status, "); see ", log));
  }
  return absl::OkStatus();
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             absl::ToChronoNanoseconds(timeout));
}

absl::Duration Monotonic() { return identity::RealClock().Monotonic(); }

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(
    const Options& options) {
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("etcd cluster dir ", options.dir, ": ", error.message()));
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(options));
  if (options.tls) RETURN_IF_ERROR(cluster->MakeCertificates());
  std::vector<std::string> failures;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    cluster->token_ = absl::StrCat("mayfly-test-", getpid(), "-", attempt);
    const absl::Status status = cluster->TryStart();
    if (status.ok()) return cluster;
    failures.push_back(
        absl::StrCat("attempt ", attempt, ": ", status.message()));
  }
  return absl::UnavailableError(absl::StrCat("etcd cluster did not start: ",
                                             absl::StrJoin(failures, "; ")));
}

EtcdCluster::~EtcdCluster() { KillAll(); }

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) {
    out.push_back(absl::StrCat("127.0.0.1:", m.client_port));
  }
  return out;
}

absl::Status EtcdCluster::MakeCertificates() {
  const std::string dir = options_.dir + "/tls";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  }
  // Self-signed with -x509; signed by the CA where -CA is given.
  auto req = [&](const std::string& name, const std::string& subject,
                 const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"/usr/bin/openssl",
                                     "req",
                                     "-x509",
                                     "-newkey",
                                     "ec",
                                     "-pkeyopt",
                                     "ec_paramgen_curve:P-256",
                                     "-nodes",
                                     "-days",
                                     "1",
                                     "-subj",
                                     subject,
                                     "-keyout",
                                     dir + "/" + name + ".key",
                                     "-out",
                                     dir + "/" + name + ".pem"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Run(argv, dir + "/openssl.log");
  };
  RETURN_IF_ERROR(req("ca", "/CN=mayfly test etcd CA", {}));
  const std::vector<std::string> leaf = {
      "-CA",           ca_file(), "-CAkey",
      dir + "/ca.key", "-addext", "basicConstraints=critical,CA:FALSE"};
  std::vector<std::string> server = leaf;
  server.insert(server.end(),
                {"-addext", "subjectAltName=IP:127.0.0.1", "-addext",
                 "extendedKeyUsage=serverAuth,clientAuth"});
  RETURN_IF_ERROR(req("server", "/CN=etcd", server));
  std::vector<std::string> client = leaf;
  client.insert(client.end(), {"-addext", "extendedKeyUsage=clientAuth"});
  return req("client", "/CN=mayfly-server", client);
}

absl::Status EtcdCluster::TryStart() {
  ASSIGN_OR_RETURN(std::vector<int> ports, FreePorts(2 * kMembers));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options_.tls) {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, identity::ReadFile(ca_file()));
    ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                     identity::ReadFile(client_cert_file()));
    ASSIGN_OR_RETURN(ssl.pem_private_key,
                     identity::ReadFile(client_key_file()));
    credentials = grpc::SslCredentials(ssl);
  }
  for (int i = 0; i < kMembers; ++i) {
    Member& m = members_[i];
    m.name = absl::StrCat("m", i);
    m.data_dir = absl::StrCat(options_.dir, "/", m.name);
    m.log = absl::StrCat(options_.dir, "/", m.name, ".log");
    m.client_port = ports[i];
    m.peer_port = ports[kMembers + i];
    std::filesystem::remove_all(m.data_dir);  // a failed attempt's cluster
    auto channel = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", m.client_port), credentials, args);
    m.maintenance = etcdserverpb::Maintenance::NewStub(channel);
    m.kv = etcdserverpb::KV::NewStub(channel);
  }
  absl::Status status;
  for (int i = 0; i < kMembers && status.ok(); ++i) status = Spawn(i);
  for (int i = 0; i < kMembers && status.ok(); ++i) {
    status = WaitServing(i, options_.start_timeout);
  }
  if (!status.ok()) KillAll();
  return status;
}

absl::Status EtcdCluster::Spawn(int i) {
  Member& m = members_[i];
  std::vector<std::string> peers;
  for (const Member& p : members_) {
    peers.push_back(absl::StrCat(p.name, "=", Url(p.peer_port)));
  }
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--name", m.name},
      {"--data-dir", m.data_dir},
      {"--listen-client-urls", Url(m.client_port, options_.tls)},
      {"--advertise-client-urls", Url(m.client_port, options_.tls)},
      {"--listen-peer-urls", Url(m.peer_port)},
      {"--initial-advertise-peer-urls", Url(m.peer_port)},
      // The --initial-* flags are ignored on a restart: the data directory
      // knows its cluster.
      {"--initial-cluster", absl::StrJoin(peers, ",")},
      {"--initial-cluster-state", "new"},
      {"--initial-cluster-token", token_},
      {"--logger", "zap"},
      {"--log-outputs", "stderr"},
      {"--log-level", "warn"},
      {"--experimental-watch-progress-notify-interval",
       absl::FormatDuration(options_.progress_notify_interval)},
  };
  std::vector<std::string> args = {options_.etcd};
  if (options_.tls) {
    const std::string dir = options_.dir + "/tls";
    args.insert(args.end(), {"--cert-file", dir + "/server.pem", "--key-file",
                             dir + "/server.key", "--trusted-ca-file",
                             ca_file(), "--client-cert-auth"});
  }
  for (const auto& [flag, value] : flags) {
    args.push_back(flag);
    args.push_back(value);
  }
  // Everything the child touches is made before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  char path_env[] = "PATH=/usr/bin:/bin";
  char* envp[] = {path_env, nullptr};
  UniqueFd log(
      open(m.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log.valid()) return ErrnoStatus(absl::StrCat("open ", m.log));
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null.valid()) return ErrnoStatus("open /dev/null");
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test died before prctl
    dup2(null.get(), STDIN_FILENO);
    dup2(log.get(), STDOUT_FILENO);
    dup2(log.get(), STDERR_FILENO);
    execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no window where a kill of -pid misses
  m.pid = pid;
  return absl::OkStatus();
}

absl::Status EtcdCluster::WaitServing(int i, absl::Duration timeout) {
  Member& m = members_[i];
  const absl::Duration deadline = Monotonic() + timeout;
  std::string last = "no answer yet";
  while (true) {
    int wstatus = 0;
    if (m.pid > 0 && waitpid(m.pid, &wstatus, WNOHANG) == m.pid) {
      m.pid = -1;
      return absl::UnavailableError(absl::StrCat(
          "etcd ", m.name, " (127.0.0.1:", m.client_port, ") exited (status ",
          wstatus, ") before serving; see ", m.log));
    }
    grpc::ClientContext context;
    context.set_deadline(Deadline(kCallTimeout));
    // Without it, gRPC 1.51 keeps a channel whose first connect was
    // refused in TRANSIENT_FAILURE, fails our calls at once, and drives
    // the reconnect only from its 5 s backup poller: 10 s to start.
    context.set_wait_for_ready(true);
    etcdserverpb::StatusResponse response;
    const grpc::Status status = m.maintenance->Status(
        &context, etcdserverpb::StatusRequest(), &response);
    if (status.ok() && response.leader() != 0) return absl::OkStatus();
    last = status.ok() ? "no leader" : status.error_message();
    if (Monotonic() >= deadline) break;
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "etcd ", m.name, " (127.0.0.1:", m.client_port, ") not serving after ",
      absl::FormatDuration(timeout), ": ", last, "; see ", m.log));
}

absl::StatusOr<int> EtcdCluster::Leader(absl::Duration timeout) {
  const absl::Duration deadline = Monotonic() + timeout;
  while (true) {
    for (int i = 0; i < kMembers; ++i) {
      if (!running(i)) continue;
      grpc::ClientContext context;
      context.set_deadline(Deadline(kCallTimeout));
      etcdserverpb::StatusResponse response;
      if (members_[i]
              .maintenance
              ->Status(&context, etcdserverpb::StatusRequest(), &response)
              .ok() &&
          response.leader() != 0 &&
          response.leader() == response.header().member_id()) {
        return i;
      }
    }
    if (Monotonic() >= deadline) break;
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "etcd cluster: no leader after ", absl::FormatDuration(timeout)));
}

absl::Status EtcdCluster::Kill(int i) {
  Member& m = members_[i];
  if (m.pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd ", m.name, " is not running"));
  }
  kill(-m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  m.pid = -1;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(int i, absl::Duration timeout) {
  if (running(i)) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd ", members_[i].name, " is running"));
  }
  RETURN_IF_ERROR(Spawn(i));
  return WaitServing(i, timeout);
}

absl::Status EtcdCluster::Compact(int64_t revision) {
  std::vector<std::string> errors;
  for (int i = 0; i < kMembers; ++i) {
    if (!running(i)) continue;
    grpc::ClientContext context;
    context.set_deadline(Deadline(kCallTimeout));
    etcdserverpb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(true);  // answer only once the history is gone
    etcdserverpb::CompactionResponse response;
    const grpc::Status status =
        members_[i].kv->Compact(&context, request, &response);
    if (status.ok()) return absl::OkStatus();
    errors.push_back(
        absl::StrCat(members_[i].name, ": ", status.error_message()));
  }
  return absl::UnavailableError(absl::StrCat("etcd compact to revision ",
                                             revision, ": ",
                                             absl::StrJoin(errors, "; ")));
}

void EtcdCluster::KillAll() {
  for (int i = 0; i < kMembers; ++i) {
    if (running(i)) Kill(i).IgnoreError();
  }
}

}  // namespace mayfly::server::testing
