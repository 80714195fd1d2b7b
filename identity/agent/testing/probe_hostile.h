// The probe's hostile modes (issue 8): what a local attacker does to the
// agent. Each prints one line for the shell test to check.
#ifndef MAYFLY_IDENTITY_AGENT_TESTING_PROBE_HOSTILE_H_
#define MAYFLY_IDENTITY_AGENT_TESTING_PROBE_HOSTILE_H_

#include <cstddef>
#include <string>

namespace mayfly::agent::probe {

// jwt-flood SOCKET THREADS SECONDS BYTES: ValidateJWTSVID abuse.
int JwtFlood(const std::string& socket, int threads, int seconds, size_t bytes);
// fork-exit SOCKET [PROGRAM...]: a stream handed to a child after its
// attested parent exits (or execs PROGRAM).
int ForkExit(const std::string& socket, char** program);
// hold SOCKET N: N silent connections, until the agent closes them.
int Hold(const std::string& socket, int n);

}  // namespace mayfly::agent::probe

#endif  // MAYFLY_IDENTITY_AGENT_TESTING_PROBE_HOSTILE_H_
