// `mayfly watch x509`: keeps an SVID's PEM files current and runs a command
// or signals a process after each write (spiffe-helper style).
//
// Only the entry point is here: the command is registered in the
// "workload" group by workload_commands.cc, so that `mayfly --help` lists
// it between `fetch x509` and `fetch jwt` (a registrar of its own would
// move it; groups are listed in name order).
#ifndef MAYFLY_IDENTITY_CLI_WATCH_COMMANDS_H_
#define MAYFLY_IDENTITY_CLI_WATCH_COMMANDS_H_

#include <string>
#include <vector>

namespace mayfly::cli {

// Runs `mayfly watch x509` with the arguments after its words; returns the
// exit code (command.h). Blocks SIGINT and SIGTERM in the calling thread and
// waits for them; call it from main's thread before any other starts.
int WatchX509(const std::vector<std::string>& args);

}  // namespace mayfly::cli

#endif  // MAYFLY_IDENTITY_CLI_WATCH_COMMANDS_H_
