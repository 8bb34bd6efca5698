// Invalidation messages (DESIGN.md section 7), as they arrive on an invalidation channel or in a
// PostgreSQL NOTIFY payload: a plain key, or a JSON object with any of "key": K, "keys": [..],
// "pattern": GLOB (every form present applies), and optionally "db": N (default 0) and "ts":
// <Unix ms of the change at the source>. Other members are ignored. Text that does not start
// with '{' (after blanks) is a key, whatever it looks like. server/invalidation.h applies them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::loaders {

struct InvalidationRequest {
  int db = 0;
  std::vector<std::string> keys;
  std::vector<std::string> patterns;
  std::optional<int64_t> ts_ms;
};

// Parses `payload`; `databases` bounds "db". An error says what is malformed.
absl::StatusOr<InvalidationRequest> ParseInvalidationMessage(std::string_view payload, int databases);

}  // namespace strata::loaders
