#include "protocol/request_parser.h"

#include <cstring>

namespace strata::protocol {

namespace {

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsInlineSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

// A RESP length ("*N" / "$N"): Redis's string2ll rules, so "01", "+1" and " 1" are invalid.
bool ParseLength(std::string_view text, int64_t* value) {
  const bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 18 || (digits[0] == '0' && digits.size() > 1) || (negative && digits == "0")) {
    return false;
  }
  int64_t magnitude = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    magnitude = magnitude * 10 + (c - '0');
  }
  *value = negative ? -magnitude : magnitude;
  return true;
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsInlineSpace(line[i])) ++i;
    if (i >= n) return true;
    std::string current;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (in_double) {
        if (i >= n) return false;  // unterminated quotes
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexDigitValue(line[i + 2]) >= 0 &&
            HexDigitValue(line[i + 3]) >= 0) {
          current.push_back(static_cast<char>(HexDigitValue(line[i + 2]) * 16 + HexDigitValue(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c;
          switch (line[i]) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case 'a': c = '\a'; break;
            default: c = line[i]; break;
          }
          current.push_back(c);
        } else if (line[i] == '"') {
          // A closing quote must be followed by a space or the end of the line.
          if (i + 1 < n && !IsInlineSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          current.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !IsInlineSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        switch (line[i]) {
          case ' ': case '\n': case '\r': case '\t': case '\0':
            done = true;
            break;
          case '"': in_double = true; break;
          case '\'': in_single = true; break;
          default: current.push_back(line[i]); break;
        }
      }
      if (i < n) ++i;
    }
    out->push_back(std::move(current));
  }
}

void RequestParser::Reset() {
  pos_ = 0;
  bulks_expected_ = -1;
  bulk_len_ = -1;
  arg_spans_.clear();
}

RequestParser::Result RequestParser::Fail(const char* message) {
  error_ = message;
  Reset();
  return Result::kError;
}

size_t RequestParser::pending_bulk_bytes() const { return bulk_len_ >= 0 ? bulk_bytes_missing_ : 0; }

RequestParser::Result RequestParser::Parse(const char* data, size_t len) {
  args_.clear();
  consumed_ = 0;
  if (len == 0) return Result::kNeedMore;
  if (data[0] == '*') return ParseMultibulk(data, len);
  return ParseInline(data, len);
}

RequestParser::Result RequestParser::ParseInline(const char* data, size_t len) {
  const char* newline = static_cast<const char*>(memchr(data, '\n', len));
  if (newline == nullptr) {
    if (len > limits_.max_inline_len) return Fail("Protocol error: too big inline request");
    return Result::kNeedMore;
  }
  size_t line_len = static_cast<size_t>(newline - data);
  size_t consumed = line_len + 1;
  if (line_len > 0 && data[line_len - 1] == '\r') --line_len;
  if (!SplitInlineArgs(std::string_view(data, line_len), &inline_storage_)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  for (const std::string& arg : inline_storage_) args_.emplace_back(arg);
  consumed_ = consumed;
  return Result::kOk;
}

RequestParser::Result RequestParser::ParseMultibulk(const char* data, size_t len) {
  if (bulks_expected_ < 0) {
    const char* cr = static_cast<const char*>(memchr(data, '\r', len));
    if (cr == nullptr || static_cast<size_t>(cr - data) + 1 >= len) {
      if (len > limits_.max_inline_len) return Fail("Protocol error: too big mbulk count string");
      return Result::kNeedMore;
    }
    int64_t count;
    if (!ParseLength(std::string_view(data + 1, static_cast<size_t>(cr - data - 1)), &count) ||
        count > limits_.max_multibulk_len) {
      return Fail("Protocol error: invalid multibulk length");
    }
    if (limits_.unauthenticated && count > kUnauthenticatedMaxArgs) {
      return Fail("Protocol error: unauthenticated multibulk length");
    }
    pos_ = static_cast<size_t>(cr - data) + 2;
    if (count <= 0) {  // "*0" and "*-1" are empty commands: consumed, nothing to run
      consumed_ = pos_;
      Reset();
      return Result::kOk;
    }
    bulks_expected_ = count;
    // Cap the reservation: the announced count is not trusted until the bytes arrive.
    arg_spans_.reserve(static_cast<size_t>(count < 1024 ? count : 1024));
  }

  while (static_cast<int64_t>(arg_spans_.size()) < bulks_expected_) {
    if (bulk_len_ < 0) {
      if (pos_ >= len) return Result::kNeedMore;
      const char* start = data + pos_;
      const char* cr = static_cast<const char*>(memchr(start, '\r', len - pos_));
      if (cr == nullptr || static_cast<size_t>(cr - data) + 1 >= len) {
        if (len - pos_ > limits_.max_inline_len) return Fail("Protocol error: too big bulk count string");
        return Result::kNeedMore;
      }
      if (start[0] != '$') {
        error_ = "Protocol error: expected '$', got '";
        error_.push_back(start[0]);
        error_.push_back('\'');
        Reset();
        return Result::kError;
      }
      int64_t bulk_len;
      if (!ParseLength(std::string_view(start + 1, static_cast<size_t>(cr - start - 1)), &bulk_len) ||
          bulk_len < 0 || bulk_len > limits_.max_bulk_len) {
        return Fail("Protocol error: invalid bulk length");
      }
      if (limits_.unauthenticated && bulk_len > kUnauthenticatedMaxBulk) {
        return Fail("Protocol error: unauthenticated bulk length");
      }
      bulk_len_ = bulk_len;
      pos_ = static_cast<size_t>(cr - data) + 2;
    }
    // Like Redis, the two bytes after the payload are skipped without being checked.
    if (pos_ > len || len - pos_ < static_cast<size_t>(bulk_len_) + 2) {
      bulk_bytes_missing_ = static_cast<size_t>(bulk_len_) + 2 - (pos_ > len ? 0 : len - pos_);
      return Result::kNeedMore;
    }
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += static_cast<size_t>(bulk_len_) + 2;
    bulk_len_ = -1;
  }

  args_.reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) args_.emplace_back(data + offset, length);
  consumed_ = pos_;
  Reset();
  return Result::kOk;
}

}  // namespace strata::protocol
