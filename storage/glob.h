// Glob matching with Redis's rules (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET, invalidation
// patterns): '*' any run, '?' any one byte, '[abc]' '[^a-c]' classes, '\x' a literal x.
// Runs in O(pattern x subject) at worst: a '*' keeps only one backtrack point.
#pragma once

#include <string_view>

namespace strata::storage {

bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase = false);

}  // namespace strata::storage
