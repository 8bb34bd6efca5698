// ReplyReader: an incremental reader of RESP2/RESP3 replies, for the load generator.
//
// Contract: bytes arrive in any split (Append, or WritableTail + Commit to read straight
// into the reader's buffer); Next() answers one of three states: a whole top-level reply is
// ready (described by a ReplySummary), more bytes are needed, or the stream is not RESP
// (an error Status; the connection should be dropped). Nested aggregates are validated and
// skipped; only the top level is summarized, with the text of its first few elements (a pub/sub
// message is ["message", channel, payload]), which is all a load generator looks at.
// Views in a ReplySummary stay valid until the next Append/WritableTail call.
#ifndef STRATA_BENCH_REPLY_READER_H_
#define STRATA_BENCH_REPLY_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace strata_bench {

enum class ReplyKind {
  kSimpleString,  // +OK
  kError,         // -ERR ..., and RESP3 blob errors (!)
  kInteger,       // :1
  kBulkString,    // $3 foo, and RESP3 verbatim strings (=)
  kNull,          // $-1, *-1, RESP3 _
  kArray,         // * and RESP3 sets (~)
  kMap,           // RESP3 %
  kPush,          // RESP3 >: out-of-band, not the answer to a request
  kDouble,        // RESP3 ,
  kBoolean,       // RESP3 #
  kBigNumber,     // RESP3 (
};

// How many elements of a top-level aggregate a ReplySummary shows: the three of a pub/sub
// message or subscribe confirmation.
inline constexpr size_t kSummarizedElements = 3;

struct ReplySummary {
  ReplyKind kind = ReplyKind::kNull;
  // Simple strings, errors, bulk strings, doubles and big numbers: the text.
  absl::string_view text;
  // Integers and booleans (1/0): the value; aggregates: the element count (map: pairs).
  int64_t integer = 0;
  // Aggregates: the first `element_count` (at most kSummarizedElements) elements as text: a
  // string or error its content, a number its digits, a null or nested aggregate empty.
  absl::string_view elements[kSummarizedElements];
  size_t element_count = 0;
};

enum class ReadState { kReply, kNeedMore, kError };

class ReplyReader {
 public:
  // Appends bytes received from the server.
  void Append(absl::string_view bytes);
  // Read-in-place: a writable region of at least `min_size` bytes at the end of the buffer;
  // after read(2) into it, Commit(n) makes the first n bytes part of the stream.
  char* WritableTail(size_t min_size);
  void Commit(size_t n);

  // Tries to take one whole reply off the front of the stream. kReply fills `reply`;
  // kNeedMore leaves everything as it was; kError sets error() and stays in error.
  ReadState Next(ReplySummary* reply);

  const absl::Status& error() const { return error_; }
  // Bytes received but not yet consumed as whole replies.
  size_t buffered() const { return end_ - start_; }

 private:
  void Compact(size_t min_free);

  std::string buffer_;
  size_t start_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last received byte
  // A failed parse needs at least this many buffered bytes before it can succeed, so a big
  // bulk reply arriving in many small reads is not re-scanned once per read.
  size_t need_at_least_ = 0;
  absl::Status error_;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_REPLY_READER_H_
