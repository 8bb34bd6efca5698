#include "storage/numbers.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace strata::storage {

bool ParseInt64(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > 20) return false;
  size_t i = 0;
  bool negative = false;
  if (text.size() == 1 && text[0] == '0') {
    *value = 0;
    return true;
  }
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  if (text[i] < '1' || text[i] > '9') return false;
  uint64_t magnitude = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (UINT64_MAX - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *value = static_cast<int64_t>(0 - magnitude);
  } else {
    if (magnitude > static_cast<uint64_t>(INT64_MAX)) return false;
    *value = static_cast<int64_t>(magnitude);
  }
  return true;
}

bool ParseLongDouble(std::string_view text, long double* value) {
  if (text.empty() || text.size() >= 5 * 1024 || std::isspace(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  long double parsed = strtold(copy.c_str(), &end);
  // All of the text, as Redis checks: strtold stops at an embedded NUL.
  if (end != copy.c_str() + copy.size() || std::isnan(parsed)) return false;
  if (errno == ERANGE && (parsed == HUGE_VALL || parsed == -HUGE_VALL || parsed == 0)) return false;
  *value = parsed;
  return true;
}

}  // namespace strata::storage
