// The names of gRPC status codes as the gRPC docs spell them
// ("PERMISSION_DENIED"), for messages people read: the admin CLI's errors
// and the test probe's output.
#ifndef MAYFLY_IDENTITY_GRPC_STATUS_H_
#define MAYFLY_IDENTITY_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

namespace mayfly::identity {

// "OK" ... "UNAUTHENTICATED"; "CODE_<n>" for a code gRPC does not define.
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_GRPC_STATUS_H_
