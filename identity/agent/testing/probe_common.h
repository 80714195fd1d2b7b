// Pieces shared by the probe's modes: dialing the agent, the security
// header, and printing what a call ended with.
#ifndef MAYFLY_IDENTITY_AGENT_TESTING_PROBE_COMMON_H_
#define MAYFLY_IDENTITY_AGENT_TESTING_PROBE_COMMON_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

namespace mayfly::agent::probe {

// Prints "ERR CODE_NAME: message"; returns 0 (the probe's exit code).
int Report(const grpc::Status& status);
// The security header (when `header`) and a 10 s deadline.
void AddHeader(grpc::ClientContext& context, bool header);
std::shared_ptr<grpc::Channel> Dial(const std::string& socket);
// A plain Unix connection (not close-on-exec), or -1 after printing why.
int ConnectRaw(const std::string& socket);
// "OK=10 RESOURCE_EXHAUSTED=20".
void PrintTally(const std::map<grpc::StatusCode, int>& tally);

}  // namespace mayfly::agent::probe

#endif  // MAYFLY_IDENTITY_AGENT_TESTING_PROBE_COMMON_H_
