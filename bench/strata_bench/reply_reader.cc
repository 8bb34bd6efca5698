#include "bench/strata_bench/reply_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"

namespace strata_bench {

namespace {

// A header line (type byte to CRLF) longer than this is not a reply a server would send.
constexpr size_t kMaxLineBytes = 64 * 1024;
// Larger aggregate counts are refused so the pending-element counter cannot overflow.
constexpr int64_t kMaxAggregateCount = int64_t{1} << 31;
constexpr size_t kReadChunk = 16 * 1024;

enum class Step { kOk, kNeedMore, kError };

// One element of the stream: its type byte, its header line, and for bulk types its payload.
struct Element {
  char type = 0;
  absl::string_view line;     // between the type byte and CRLF
  absl::string_view payload;  // bulk types only
  int64_t number = 0;        // length or count; -1 means null
  size_t next = 0;           // offset just past the element's own bytes (not its children)
};

bool ParseInt64(absl::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  bool negative = false;
  size_t i = 0;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  uint64_t value = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (static_cast<uint64_t>(INT64_MAX) - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  return true;
}

bool IsAggregate(char type) {
  return type == '*' || type == '~' || type == '%' || type == '>' || type == '|';
}

// Elements a non-null aggregate header announces: maps and attributes hold key-value pairs.
int64_t ChildCount(const Element& e) {
  return (e.type == '%' || e.type == '|') ? 2 * e.number : e.number;
}

class Parser {
 public:
  explicit Parser(absl::string_view data) : data_(data) {}

  // Parses the element starting at `pos`. On kNeedMore, *need is the total length of
  // data_ that would let this element parse; on kError, error() says why.
  Step ParseElement(size_t pos, Element* e, size_t* need) {
    if (pos >= data_.size()) {
      *need = pos + 1;
      return Step::kNeedMore;
    }
    const char* base = data_.data();
    const size_t search_end = std::min(data_.size(), pos + kMaxLineBytes);
    const void* cr = std::memchr(base + pos + 1, '\r', search_end - (pos + 1));
    if (cr == nullptr) {
      if (search_end - pos >= kMaxLineBytes) return Fail("reply header line too long");
      *need = data_.size() + 1;
      return Step::kNeedMore;
    }
    const size_t cr_at = static_cast<size_t>(static_cast<const char*>(cr) - base);
    if (cr_at + 1 >= data_.size()) {
      *need = cr_at + 2;
      return Step::kNeedMore;
    }
    if (base[cr_at + 1] != '\n') return Fail("header line not terminated by CRLF");
    e->type = base[pos];
    e->line = data_.substr(pos + 1, cr_at - pos - 1);
    e->payload = {};
    e->number = 0;
    e->next = cr_at + 2;
    switch (e->type) {
      case '+':
      case '-':
      case ',':
      case '(':
        return Step::kOk;
      case ':':
        if (!ParseInt64(e->line, &e->number)) return Fail("bad integer reply");
        return Step::kOk;
      case '#':
        if (e->line != "t" && e->line != "f") return Fail("bad boolean reply");
        e->number = e->line == "t" ? 1 : 0;
        return Step::kOk;
      case '_':
        if (!e->line.empty()) return Fail("bad null reply");
        e->number = -1;
        return Step::kOk;
      case '$':
      case '!':
      case '=': {
        if (!ParseInt64(e->line, &e->number) || e->number < -1 ||
            (e->number == -1 && e->type != '$')) {
          return Fail("bad bulk length");
        }
        if (e->number == -1) return Step::kOk;
        const size_t length = static_cast<size_t>(e->number);
        const size_t payload_end = e->next + length;
        if (payload_end + 2 > data_.size()) {
          *need = payload_end + 2;
          return Step::kNeedMore;
        }
        if (base[payload_end] != '\r' || base[payload_end + 1] != '\n') {
          return Fail("bulk payload not terminated by CRLF");
        }
        e->payload = data_.substr(e->next, length);
        e->next = payload_end + 2;
        return Step::kOk;
      }
      case '*':
      case '~':
      case '%':
      case '>':
      case '|':
        if (!ParseInt64(e->line, &e->number) || e->number < -1 || e->number > kMaxAggregateCount ||
            (e->number == -1 && e->type != '*')) {
          return Fail("bad aggregate length");
        }
        return Step::kOk;
      default:
        return Fail(absl::StrCat("unexpected reply type byte '", absl::CHexEscape(std::string(1, e->type)),
                                 "'"));
    }
  }

  // Skips `pending` whole elements starting at *pos, children included.
  Step SkipElements(int64_t pending, size_t* pos, size_t* need) {
    Element e;
    while (pending > 0) {
      const Step step = ParseElement(*pos, &e, need);
      if (step != Step::kOk) return step;
      *pos = e.next;
      --pending;
      if (IsAggregate(e.type) && e.number > 0) pending += ChildCount(e);
      // An attribute decorates the element after it rather than taking a slot itself.
      if (e.type == '|') ++pending;
    }
    return Step::kOk;
  }

  const std::string& error() const { return error_; }

 private:
  Step Fail(std::string message) {
    error_ = std::move(message);
    return Step::kError;
  }

  absl::string_view data_;
  std::string error_;
};

// Reads the `count` children of a top-level aggregate at *pos, keeping the text of the first
// kSummarizedElements in `texts`; their own children (and attributes) are validated and skipped.
Step ReadChildren(Parser* parser, int64_t count, size_t* pos, size_t* need, absl::string_view* texts,
                  size_t* text_count) {
  Element child;
  while (count > 0) {
    const Step step = parser->ParseElement(*pos, &child, need);
    if (step != Step::kOk) return step;
    *pos = child.next;
    if (child.type == '|') {
      // An attribute decorates the element after it rather than taking a slot itself.
      if (const Step s = parser->SkipElements(2 * child.number, pos, need); s != Step::kOk) return s;
      continue;
    }
    --count;
    if (*text_count < kSummarizedElements) {
      absl::string_view text;
      if (child.type == '$' || child.type == '!' || child.type == '=') {
        text = child.payload;
      } else if (!IsAggregate(child.type) && child.type != '_') {
        text = child.line;
      }
      texts[(*text_count)++] = text;
    }
    if (IsAggregate(child.type) && child.number > 0) {
      if (const Step s = parser->SkipElements(ChildCount(child), pos, need); s != Step::kOk) return s;
    }
  }
  return Step::kOk;
}

}  // namespace

void ReplyReader::Append(absl::string_view bytes) {
  char* tail = WritableTail(bytes.size());
  std::memcpy(tail, bytes.data(), bytes.size());
  Commit(bytes.size());
}

char* ReplyReader::WritableTail(size_t min_size) {
  Compact(std::max(min_size, kReadChunk));
  return buffer_.data() + end_;
}

void ReplyReader::Commit(size_t n) { end_ = std::min(end_ + n, buffer_.size()); }

void ReplyReader::Compact(size_t min_free) {
  if (start_ == end_) start_ = end_ = 0;
  if (buffer_.size() - end_ >= min_free) return;
  if (start_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buffer_.size() - end_ < min_free) buffer_.resize(std::max(buffer_.size() * 2, end_ + min_free));
}

ReadState ReplyReader::Next(ReplySummary* reply) {
  if (!error_.ok()) return ReadState::kError;
  if (buffered() < need_at_least_) return ReadState::kNeedMore;
  const absl::string_view data(buffer_.data(), end_);
  Parser parser(data);
  size_t pos = start_;
  size_t need = 0;
  Element top;
  Step step;
  while (true) {
    step = parser.ParseElement(pos, &top, &need);
    if (step != Step::kOk || top.type != '|') break;
    // Attributes before a reply are metadata about it; skip them.
    pos = top.next;
    step = parser.SkipElements(2 * top.number, &pos, &need);
    if (step != Step::kOk) break;
  }
  absl::string_view elements[kSummarizedElements];
  size_t element_count = 0;
  if (step == Step::kOk) {
    pos = top.next;
    if (IsAggregate(top.type) && top.number > 0) {
      step = ReadChildren(&parser, ChildCount(top), &pos, &need, elements, &element_count);
    }
  }
  if (step == Step::kNeedMore) {
    need_at_least_ = need - start_;
    return ReadState::kNeedMore;
  }
  if (step == Step::kError) {
    error_ = absl::DataLossError(absl::StrCat("protocol error: ", parser.error()));
    return ReadState::kError;
  }
  need_at_least_ = 0;
  start_ = pos;
  ReplySummary summary;
  switch (top.type) {
    case '+': summary.kind = ReplyKind::kSimpleString; summary.text = top.line; break;
    case '-': summary.kind = ReplyKind::kError; summary.text = top.line; break;
    case '!': summary.kind = ReplyKind::kError; summary.text = top.payload; break;
    case ':': summary.kind = ReplyKind::kInteger; summary.integer = top.number; break;
    case '$':
    case '=':
      if (top.number < 0) {
        summary.kind = ReplyKind::kNull;
      } else {
        summary.kind = ReplyKind::kBulkString;
        summary.text = top.payload;
      }
      break;
    case '_': summary.kind = ReplyKind::kNull; break;
    case ',': summary.kind = ReplyKind::kDouble; summary.text = top.line; break;
    case '(': summary.kind = ReplyKind::kBigNumber; summary.text = top.line; break;
    case '#': summary.kind = ReplyKind::kBoolean; summary.integer = top.number; break;
    case '*':
    case '~':
      summary.kind = top.number < 0 ? ReplyKind::kNull : ReplyKind::kArray;
      summary.integer = top.number;
      break;
    case '%': summary.kind = ReplyKind::kMap; summary.integer = top.number; break;
    case '>': summary.kind = ReplyKind::kPush; summary.integer = top.number; break;
  }
  for (size_t i = 0; i < element_count; ++i) summary.elements[i] = elements[i];
  summary.element_count = element_count;
  *reply = summary;
  return ReadState::kReply;
}

}  // namespace strata_bench
