#include "protocol/reply_builder.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace strata::protocol {

void ReplyBuilder::Header(char type, int64_t value) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, value);
  end[0] = '\r';
  end[1] = '\n';
  out_->append(buf, static_cast<size_t>(end + 2 - buf));
}

void ReplyBuilder::SimpleString(std::string_view text) {
  out_->push_back('+');
  out_->append(text);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Error(std::string_view message) {
  ++errors_written_;
  if (error_observer_ != nullptr) error_observer_->OnErrorReply(message);
  out_->push_back('-');
  // An error line may not contain newlines; Redis replaces them with spaces too.
  size_t start = out_->size();
  out_->append(message);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n", 2);
}

void ReplyBuilder::Integer(int64_t value) { Header(':', value); }

void ReplyBuilder::Bulk(std::string_view value) {
  Header('$', static_cast<int64_t>(value.size()));
  out_->append(value);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Null() {
  if (resp3_) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void ReplyBuilder::NullArray() {
  if (resp3_) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void ReplyBuilder::ArrayHeader(size_t count) { Header('*', static_cast<int64_t>(count)); }

void ReplyBuilder::MapHeader(size_t pairs) {
  if (resp3_) {
    Header('%', static_cast<int64_t>(pairs));
  } else {
    Header('*', static_cast<int64_t>(pairs * 2));
  }
}

void ReplyBuilder::SetHeader(size_t count) { Header(resp3_ ? '~' : '*', static_cast<int64_t>(count)); }

void ReplyBuilder::PushHeader(size_t count) { Header(resp3_ ? '>' : '*', static_cast<int64_t>(count)); }

std::string ReplyBuilder::FormatDouble(double value) {
  char buf[64];
  int len;
  if (std::isinf(value)) {
    len = std::snprintf(buf, sizeof(buf), "%s", value > 0 ? "inf" : "-inf");
  } else {
    len = std::snprintf(buf, sizeof(buf), "%.17g", value);
  }
  return std::string(buf, static_cast<size_t>(len));
}

void ReplyBuilder::Double(double value) {
  const std::string text = FormatDouble(value);
  if (resp3_) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n", 2);
  } else {
    Bulk(text);
  }
}

void ReplyBuilder::Boolean(bool value) {
  if (resp3_) {
    out_->append(value ? "#t\r\n" : "#f\r\n", 4);
  } else {
    Integer(value ? 1 : 0);
  }
}

void ReplyBuilder::Verbatim(std::string_view text) {
  if (resp3_) {
    Header('=', static_cast<int64_t>(text.size() + 4));
    out_->append("txt:", 4);
    out_->append(text);
    out_->append("\r\n", 2);
  } else {
    Bulk(text);
  }
}

}  // namespace strata::protocol
