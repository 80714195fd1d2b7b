// mayfly-server: signs SVIDs for attested agents (identity/server/server.h).
//
//   mayfly-server --config FILE        serve
//   mayfly-server --check-config FILE  validate the config and exit
// SIGTERM/SIGINT stop gracefully. SIGHUP re-reads the config (log_level
// applies at once; a bad file is logged and the running config kept), the
// signing files, and renews what is due now (Maintain); other config
// changes need a restart.
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "identity/clock.h"
#include "identity/log/log.h"
#include "identity/server/config.h"
#include "identity/server/server.h"

namespace mayfly::server {
namespace {

constexpr char kUsage[] =
    "usage: mayfly-server --config FILE\n"
    "       mayfly-server --check-config FILE\n\n"
    "Serves the Node API (agents, TLS) and the Registration API (admin Unix\n"
    "socket, or mTLS for admin_ids). SIGHUP renews what is due, SIGTERM "
    "stops.\n";

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_path;
  bool check_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if ((a == "--config" || a == "--check-config") &&
               i + 1 < args.size()) {
      config_path = args[++i];
      check_only = a == "--check-config";
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::cerr << "mayfly-server: unknown argument \"" << a << "\"\n"
                << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "mayfly-server: --config FILE is required\n" << kUsage;
    return 2;
  }
  absl::StatusOr<ServerConfig> config = LoadServerConfig(config_path);
  if (!config.ok()) {
    std::cerr << "mayfly-server: " << config.status().message() << "\n";
    return 2;
  }
  if (check_only) {
    std::cout << config_path << ": OK\n";
    return 0;
  }
  SetLogLevel(config->log_level);
  // Signals are taken by one thread with sigwait; block them everywhere
  // else before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<MayflyServer>> server =
      MayflyServer::Start(*config, identity::RealClock());
  if (!server.ok()) {
    LogError("start_failed", {{"error", server.status().ToString()}});
    return 1;
  }
  std::thread maintenance([&] { (*server)->Run(); });
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // log_level applies at once; the rest of the config at a restart.
      absl::StatusOr<ServerConfig> next = LoadServerConfig(config_path);
      if (!next.ok()) {
        LogError("config_reload_failed",
                 {{"error", std::string(next.status().message())}});
      } else {
        SetLogLevel(next->log_level);
        LogInfo("config_reloaded",
                {{"log_level", std::string(LogLevelName(next->log_level))}});
      }
      if (absl::Status s = (*server)->Maintain(); !s.ok()) {
        LogError("maintenance_failed", {{"error", s.ToString()}});
      }
      continue;
    }
    LogInfo("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  (*server)->Shutdown();
  maintenance.join();
  server->reset();
  LogInfo("stopped", {});
  return 0;
}

}  // namespace
}  // namespace mayfly::server

int main(int argc, char** argv) { return mayfly::server::Main(argc, argv); }
