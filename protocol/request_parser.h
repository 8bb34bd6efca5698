// RequestParser: turns the bytes a client sends into commands (argument vectors).
//
// Contract: Parse() is given the unconsumed bytes of a connection, starting at the first byte
// of the command being parsed, and returns one of three states:
//   kOk       - one whole command was parsed; args() views into the caller's bytes and is valid
//               until those bytes move; consumed() bytes belong to it (an empty command, such as
//               a blank inline line or "*0\r\n", is kOk with no args: the caller skips it).
//   kNeedMore - the command is incomplete; call again with the same bytes plus more. Progress is
//               kept (as offsets from the command start), so a long command is not re-scanned.
//   kError    - the input can never become a valid command; error() holds Redis's exact text
//               (e.g. "Protocol error: invalid bulk length"). The connection must be closed.
// Both RESP multibulk arrays ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline commands
// ("GET k\r\n", with redis-cli's quoting rules) are accepted, as Redis does.
// Not thread-safe; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::protocol {

struct ParserLimits {
  // Redis's proto-max-bulk-len: the longest single argument.
  int64_t max_bulk_len = 512LL * 1024 * 1024;
  // Redis's PROTO_INLINE_MAX_SIZE: the longest inline command or header line.
  size_t max_inline_len = 64 * 1024;
  // The most arguments a multibulk array may announce (Redis: INT_MAX).
  int64_t max_multibulk_len = 0x7fffffff;
  // A client that must still authenticate: like Redis, at most 10 arguments of 16 KB each, so
  // an unauthenticated client cannot make the server hold much of anything.
  bool unauthenticated = false;
};

inline constexpr int64_t kUnauthenticatedMaxArgs = 10;
inline constexpr int64_t kUnauthenticatedMaxBulk = 16384;

class RequestParser {
 public:
  enum class Result { kOk, kNeedMore, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  Result Parse(const char* data, size_t len);

  // Valid after kOk: the command's arguments and the number of bytes it took.
  const std::vector<std::string_view>& args() const { return args_; }
  size_t consumed() const { return consumed_; }
  // Valid after kError.
  const std::string& error() const { return error_; }

  // After kNeedMore: how many more bytes the pending bulk argument needs (0 when unknown), so
  // the caller can size its buffer once for a large value.
  size_t pending_bulk_bytes() const;

  void set_limits(ParserLimits limits) { limits_ = limits; }

 private:
  Result ParseInline(const char* data, size_t len);
  Result ParseMultibulk(const char* data, size_t len);
  Result Fail(const char* message);
  void Reset();

  ParserLimits limits_;
  // State of a partially parsed multibulk command, relative to the command's first byte.
  size_t pos_ = 0;               // next byte to scan
  int64_t bulks_expected_ = -1;  // -1: the "*N" header is not parsed yet
  int64_t bulk_len_ = -1;        // -1: the "$N" header of the next bulk is not parsed yet
  size_t bulk_bytes_missing_ = 0;  // after kNeedMore inside a bulk: bytes still to come
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length) of parsed arguments

  std::vector<std::string_view> args_;
  std::vector<std::string> inline_storage_;  // inline arguments after unquoting
  size_t consumed_ = 0;
  std::string error_;
};

// Splits an inline command line the way redis-cli and Redis do (sdssplitargs): spaces separate,
// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
// Returns false on unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace strata::protocol
