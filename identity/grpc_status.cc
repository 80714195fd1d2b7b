// gRPC status code names: see grpc_status.h.
#include "identity/grpc_status.h"

#include "absl/strings/str_cat.h"

namespace mayfly::identity {

std::string GrpcCodeName(grpc::StatusCode code) {
  // Indexed by code: grpc/impl/codegen/status_code_enum.h, 0 to 16.
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  const int n = static_cast<int>(code);
  constexpr int kCount = sizeof(kNames) / sizeof(kNames[0]);
  return n >= 0 && n < kCount ? kNames[n] : absl::StrCat("CODE_", n);
}

}  // namespace mayfly::identity
