#include "storage/glob.h"

#include <cctype>
#include <utility>

namespace strata::storage {

namespace {

char Fold(char c, bool nocase) {
  return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// Matches the one-byte element of `pattern` at p against c; advances p past the element.
bool MatchOne(std::string_view pattern, size_t& p, char c, bool nocase) {
  char pc = pattern[p];
  if (pc == '?') {
    ++p;
    return true;
  }
  if (pc == '\\' && p + 1 < pattern.size()) {
    p += 2;
    return Fold(pattern[p - 1], nocase) == Fold(c, nocase);
  }
  if (pc != '[') {
    ++p;
    return Fold(pc, nocase) == Fold(c, nocase);
  }
  ++p;
  bool negate = false;
  if (p < pattern.size() && pattern[p] == '^') {
    negate = true;
    ++p;
  }
  bool matched = false;
  while (p < pattern.size() && pattern[p] != ']') {
    if (pattern[p] == '\\' && p + 1 < pattern.size()) {
      ++p;
      if (Fold(pattern[p], nocase) == Fold(c, nocase)) matched = true;
      ++p;
    } else if (p + 2 < pattern.size() && pattern[p + 1] == '-') {
      char start = Fold(pattern[p], nocase), end = Fold(pattern[p + 2], nocase);
      if (start > end) std::swap(start, end);
      char folded = Fold(c, nocase);
      if (folded >= start && folded <= end) matched = true;
      p += 3;
    } else {
      if (Fold(pattern[p], nocase) == Fold(c, nocase)) matched = true;
      ++p;
    }
  }
  if (p < pattern.size()) ++p;  // the closing ']' (an unterminated class ends the pattern)
  return negate ? !matched : matched;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase) {
  size_t p = 0, s = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (s < subject.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;
      star_p = p;
      star_s = s;
      continue;
    }
    size_t next_p = p;
    if (p < pattern.size() && MatchOne(pattern, next_p, subject[s], nocase)) {
      p = next_p;
      ++s;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace strata::storage
