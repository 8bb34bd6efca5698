// The failures storage operations report, as absl::Status values whose messages are Redis's
// error texts (the server replies with status.message() as is). One constructor per error.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace strata::storage {

inline constexpr std::string_view WrongTypeStatusText() {
  return "WRONGTYPE Operation against a key holding the wrong kind of value";
}
inline absl::Status WrongTypeError() { return absl::FailedPreconditionError(
      "WRONGTYPE Operation against a key holding the wrong kind of value"); }
inline absl::Status NotIntegerError() {
  return absl::InvalidArgumentError("ERR value is not an integer or out of range");
}
inline absl::Status NotFloatError() { return absl::InvalidArgumentError("ERR value is not a valid float"); }
inline absl::Status IncrOverflowError() {
  return absl::OutOfRangeError("ERR increment or decrement would overflow");
}
inline absl::Status NanOrInfinityError() {
  return absl::OutOfRangeError("ERR increment would produce NaN or Infinity");
}
inline absl::Status StringTooLongError() {
  return absl::OutOfRangeError("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

}  // namespace strata::storage
