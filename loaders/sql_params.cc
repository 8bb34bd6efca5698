#include "loaders/sql_params.h"

#include <cctype>

namespace strata::loaders {

namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// If a dollar quote ($$ or $tag$) starts at i, returns its delimiter, else "".
std::string_view DollarQuoteAt(std::string_view q, size_t i) {
  if (q[i] != '$') return {};
  size_t j = i + 1;
  while (j < q.size() && IsNameChar(q[j])) ++j;
  if (j < q.size() && q[j] == '$' && (j == i + 1 || IsNameStart(q[i + 1]))) return q.substr(i, j - i + 1);
  return {};
}

}  // namespace

PositionalQuery RewriteNamedParameters(std::string_view q, PlaceholderStyle style) {
  PositionalQuery out;
  size_t i = 0;
  auto copy_until = [&](size_t end) {
    out.text.append(q.substr(i, end - i));
    i = end;
  };
  while (i < q.size()) {
    const char c = q[i];
    if (c == '\'' || c == '"') {
      // Quoted text or identifier; a doubled quote is an escaped quote inside it.
      size_t j = i + 1;
      while (j < q.size()) {
        if (q[j] == c) {
          if (j + 1 < q.size() && q[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      copy_until(j < q.size() ? j + 1 : q.size());
    } else if (c == '-' && i + 1 < q.size() && q[i + 1] == '-') {
      size_t end = q.find('\n', i);
      copy_until(end == std::string_view::npos ? q.size() : end);
    } else if (c == '/' && i + 1 < q.size() && q[i + 1] == '*') {
      size_t end = q.find("*/", i + 2);
      copy_until(end == std::string_view::npos ? q.size() : end + 2);
    } else if (std::string_view tag = DollarQuoteAt(q, i); !tag.empty()) {
      size_t end = q.find(tag, i + tag.size());
      copy_until(end == std::string_view::npos ? q.size() : end + tag.size());
    } else if (c == ':' && i + 1 < q.size() && q[i + 1] == ':') {
      copy_until(i + 2);  // a cast, not a parameter
    } else if (c == ':' && i + 1 < q.size() && IsNameStart(q[i + 1]) && (i == 0 || q[i - 1] != ':')) {
      size_t j = i + 1;
      while (j < q.size() && IsNameChar(q[j])) ++j;
      std::string name(q.substr(i + 1, j - i - 1));
      size_t position = 0;
      while (position < out.names.size() && out.names[position] != name) ++position;
      if (position == out.names.size()) out.names.push_back(name);
      out.text.push_back(style == PlaceholderStyle::kDollar ? '$' : '?');
      out.text.append(std::to_string(position + 1));
      i = j;
    } else {
      out.text.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace strata::loaders
