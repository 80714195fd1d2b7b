// mayfly-agent: the per-node SPIFFE Workload API daemon.
//
//   mayfly-agent [--config FILE]      serve (the embedded default without
//                                     --config)
//   mayfly-agent --print-default-config
//   mayfly-agent --check-config FILE  validate a config (and its entries
//                                     file) and exit
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "identity/agent/agent.h"
#include "identity/agent/config.h"
#include "identity/clock.h"
#include "identity/log/log.h"

namespace mayfly::agent {
namespace {

constexpr char kUsage[] =
    "usage: mayfly-agent [--config FILE]\n"
    "       mayfly-agent --check-config FILE\n"
    "       mayfly-agent --print-default-config\n\n"
    "Serves the SPIFFE Workload API on a Unix socket. Without --config it "
    "runs on an\nembedded default: trust domain example.org, one entry "
    "giving the invoking\nuser spiffe://example.org/user/UID. SIGHUP reloads "
    "the entries, SIGTERM stops.\n";

// Where the embedded default keeps its socket and state: the system paths
// for root, the user's own directories otherwise.
std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v == '/' ? std::string(v) : fallback;
}

std::string DefaultRuntimeDir() {
  if (getuid() == 0) return "/run/mayfly-agent";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg == '/') return absl::StrCat(xdg, "/mayfly-agent");
  return absl::StrCat("/tmp/mayfly-agent-", getuid());
}

std::string DefaultStateDir() {
  if (getuid() == 0) return "/var/lib/mayfly-agent";
  const std::string home =
      EnvOr("HOME", absl::StrCat("/tmp/mayfly-home-", getuid()));
  return absl::StrCat(EnvOr("XDG_STATE_HOME", home + "/.local/state"),
                      "/mayfly-agent");
}

std::string DefaultConfigText() {
  return DefaultAgentConfigYaml(getuid(), DefaultRuntimeDir(),
                                DefaultStateDir());
}

// Each connection costs the agent two descriptors (the socket and the
// caller's pidfd); the usual soft limit of 1024 would cap it near 500
// callers. Raise the soft limit to the hard one, as Go programs do.
void RaiseFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_path;
  bool check_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--print-default-config") {
      std::cout << DefaultConfigText();
      return 0;
    } else if ((a == "--config" || a == "--check-config") &&
               i + 1 < args.size()) {
      config_path = args[++i];
      check_only = a == "--check-config";
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::cerr << "mayfly-agent: unknown argument \"" << a << "\"\n" << kUsage;
      return 2;
    }
  }

  absl::StatusOr<AgentConfig> config =
      config_path.empty()
          ? ParseAgentConfig(DefaultConfigText(), "<embedded default config>")
          : LoadAgentConfig(config_path);
  if (!config.ok()) {
    std::cerr << "mayfly-agent: " << config.status().message() << "\n";
    return 2;
  }
  if (check_only && config->server.has_value()) {
    std::cout << config_path << ": OK (server mode: entries from "
              << config->server->addresses.size() << " server address"
              << (config->server->addresses.size() == 1 ? "" : "es") << ")\n";
    return 0;
  }
  if (check_only) {
    absl::StatusOr<std::vector<EntryConfig>> entries =
        LoadConfiguredEntries(*config);
    if (!entries.ok()) {
      std::cerr << "mayfly-agent: " << entries.status().message() << "\n";
      return 2;
    }
    std::cout << config_path << ": OK (" << entries->size() << " entries "
              << (config->entries_file.empty() ? "inline"
                                               : "from " + config->entries_file)
              << ")\n";
    return 0;
  }
  SetLogLevel(config->log_level);

  RaiseFileLimit();
  BlockAgentSignals();
  absl::StatusOr<std::unique_ptr<Agent>> agent =
      Agent::Create(*config, config_path, identity::RealClock());
  if (!agent.ok()) {
    LogError("start_failed", {{"error", agent.status().ToString()}});
    return 1;
  }
  (*agent)->Run();
  return 0;
}

}  // namespace
}  // namespace mayfly::agent

int main(int argc, char** argv) { return mayfly::agent::Main(argc, argv); }
