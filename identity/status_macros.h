// Early-return helpers for absl::Status and absl::StatusOr.
//
// Abseil 20220623 (the Debian bookworm version) ships no status macros, so
// these two small ones stand in for the usual RETURN_IF_ERROR and
// ASSIGN_OR_RETURN. They evaluate their argument exactly once.
#ifndef MAYFLY_IDENTITY_STATUS_MACROS_H_
#define MAYFLY_IDENTITY_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MAYFLY_STATUS_CONCAT_INNER_(a, b) a##b
#define MAYFLY_STATUS_CONCAT_(a, b) MAYFLY_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    const ::absl::Status mayfly_status_ = (expr);    \
    if (!mayfly_status_.ok()) return mayfly_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares `x` from the value of a
// StatusOr, or returns its error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  MAYFLY_ASSIGN_OR_RETURN_IMPL_(    \
      MAYFLY_STATUS_CONCAT_(mayfly_statusor_, __LINE__), lhs, expr)

#define MAYFLY_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // MAYFLY_IDENTITY_STATUS_MACROS_H_
