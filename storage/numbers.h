// Number parsing with Redis's rules, shared by storage and the command handlers.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::storage {

// Strict decimal integer (Redis's string2ll): no spaces, no '+', no leading zeros, fits int64.
bool ParseInt64(std::string_view text, int64_t* value);

// Long double with Redis's rules (string2ld): no leading space, all of the text, not NaN,
// no overflow; "inf" is accepted.
bool ParseLongDouble(std::string_view text, long double* value);

}  // namespace strata::storage
