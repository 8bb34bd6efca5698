// Named SQL parameters: finds ":name" placeholders in a query and rewrites them to the
// positional form a driver binds ("$1" for PostgreSQL, "?1" for SQLite).
//
// The scanner skips what is not a parameter: "::" casts (x::int), text inside 'single quotes',
// "double-quoted identifiers", dollar-quoted $tag$ bodies $tag$, -- line comments and
// /* block comments */. A name is [A-Za-z_][A-Za-z0-9_]*. Repeated names share one position.
// Values are only ever bound, never spliced into the text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata::loaders {

struct PositionalQuery {
  std::string text;                // the query with placeholders rewritten
  std::vector<std::string> names;  // names[i] is bound at position i + 1
};

enum class PlaceholderStyle { kDollar, kQuestion };

PositionalQuery RewriteNamedParameters(std::string_view query, PlaceholderStyle style);

}  // namespace strata::loaders
