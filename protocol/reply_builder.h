// ReplyBuilder: encodes replies in RESP2 or RESP3 into an output byte buffer.
//
// Contract: every method appends one complete RESP element (or an aggregate header, whose
// elements the caller appends next) to the buffer given at construction; the caller owns the
// buffer. Types that RESP2 lacks are downgraded as Redis does: null -> "$-1" (or "*-1" for a
// null array), map -> flat array of 2N, set -> array, double -> bulk string, boolean -> integer,
// push -> array. Not thread-safe; one builder per connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::protocol {

// Told of every error reply a builder writes (the server's error statistics); called on the
// builder's thread, with the error line without its '-'.
class ErrorReplyObserver {
 public:
  virtual void OnErrorReply(std::string_view message) = 0;

 protected:
  ~ErrorReplyObserver() = default;
};

class ReplyBuilder {
 public:
  explicit ReplyBuilder(std::string* out) : out_(out) {}

  void set_resp3(bool resp3) { resp3_ = resp3; }
  bool resp3() const { return resp3_; }

  void SimpleString(std::string_view text);  // "+OK"
  void Ok() { out_->append("+OK\r\n", 5); }
  // `message` is the whole error line without the leading '-', e.g. "ERR syntax error".
  void Error(std::string_view message);
  void Integer(int64_t value);
  void Bulk(std::string_view value);
  void Null();       // RESP3 "_", RESP2 "$-1"
  void NullArray();  // RESP3 "_", RESP2 "*-1"
  void ArrayHeader(size_t count);
  void MapHeader(size_t pairs);
  void SetHeader(size_t count);
  void PushHeader(size_t count);
  // A double, formatted as Redis formats scores/floats (%.17g, "inf"/"-inf").
  void Double(double value);
  // That formatting as text (ZSCAN answers scores as bulk strings in both protocols).
  static std::string FormatDouble(double value);
  void Boolean(bool value);
  // A verbatim string (RESP3 "=N\r\ntxt:..."), a plain bulk string in RESP2.
  void Verbatim(std::string_view text);
  // Raw bytes already in RESP form.
  void Raw(std::string_view bytes) { out_->append(bytes); }

  std::string* buffer() { return out_; }
  // Error replies written so far (a command failed when it moved).
  uint64_t errors_written() const { return errors_written_; }
  void set_error_observer(ErrorReplyObserver* observer) { error_observer_ = observer; }

 private:
  void Header(char type, int64_t value);

  std::string* out_;
  bool resp3_ = false;
  uint64_t errors_written_ = 0;
  ErrorReplyObserver* error_observer_ = nullptr;
};

}  // namespace strata::protocol
