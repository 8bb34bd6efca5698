// A strict RFC 8259 reader, recursive descent over the input bytes.
//
// Why strict: the bodies and messages it reads come from outside (HTTP sources, PUBLISH), so the
// reader accepts exactly the grammar and says where it stopped otherwise. In particular:
//   - whitespace is only space, tab, LF and CR; no comments, no trailing commas, no BOM;
//   - numbers follow  -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?  and are kept as written,
//     so "12.50" stays "12.50" when it becomes a Redis value (no round trip through double);
//   - strings must be valid UTF-8 (RFC 3629: no overlong forms, no encoded surrogates), control
//     characters must be escaped, and \uXXXX escapes must pair surrogates correctly;
//   - nesting deeper than JsonValue::kMaxDepth is an error rather than a deep recursion, so the
//     stack use is bounded whatever the input.
// Every error message ends with the byte offset where the problem was found.
#include "loaders/json.h"

#include "absl/strings/str_format.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace strata::loaders {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    SkipWhitespace();
    if (AtEnd()) return Fail("empty document");
    JsonValue value;
    if (absl::Status status = ParseValue(value, 0); !status.ok()) return status;
    SkipWhitespace();
    if (!AtEnd()) return Fail("unexpected text after the document");
    return value;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(text_[pos_]); }

  absl::Status Fail(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", std::string(what), " at byte ", pos_));
  }

  void SkipWhitespace() {
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  // Consumes `word` if the input continues with it.
  bool Consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status ParseValue(JsonValue& out, int depth) {
    if (AtEnd()) return Fail("expected a value");
    switch (text_[pos_]) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"':
        out.type_ = JsonValue::Type::kString;
        return ParseString(out.text_);
      case 't':
      case 'f':
        if (Consume("true")) {
          out.type_ = JsonValue::Type::kBool;
          out.text_ = "true";
          return absl::OkStatus();
        }
        if (Consume("false")) {
          out.type_ = JsonValue::Type::kBool;
          out.text_ = "false";
          return absl::OkStatus();
        }
        return Fail("invalid literal");
      case 'n':
        if (Consume("null")) {
          out.type_ = JsonValue::Type::kNull;
          return absl::OkStatus();
        }
        return Fail("invalid literal");
      default:
        if (text_[pos_] == '-' || IsDigit(text_[pos_])) return ParseNumber(out);
        return Fail("expected a value");
    }
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  absl::Status ParseNumber(JsonValue& out) {
    size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit");
    if (text_[pos_] == '0') {
      ++pos_;
      if (!AtEnd() && IsDigit(text_[pos_])) return Fail("leading zero in a number");
    } else {
      while (!AtEnd() && IsDigit(text_[pos_])) ++pos_;
    }
    if (!AtEnd() && text_[pos_] == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit after '.'");
      while (!AtEnd() && IsDigit(text_[pos_])) ++pos_;
    }
    if (!AtEnd() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (!AtEnd() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit in the exponent");
      while (!AtEnd() && IsDigit(text_[pos_])) ++pos_;
    }
    out.type_ = JsonValue::Type::kNumber;
    out.text_ = std::string(text_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status ParseArray(JsonValue& out, int depth) {
    if (depth > JsonValue::kMaxDepth) return Fail(absl::StrCat("nesting deeper than ", JsonValue::kMaxDepth));
    out.type_ = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (!AtEnd() && text_[pos_] == ']') {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      JsonValue element;
      if (absl::Status status = ParseValue(element, depth); !status.ok()) return status;
      out.array_.push_back(std::move(element));
      SkipWhitespace();
      if (AtEnd()) return Fail("unterminated array");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        return absl::OkStatus();
      }
      return Fail("expected ',' or ']'");
    }
  }

  absl::Status ParseObject(JsonValue& out, int depth) {
    if (depth > JsonValue::kMaxDepth) return Fail(absl::StrCat("nesting deeper than ", JsonValue::kMaxDepth));
    out.type_ = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (!AtEnd() && text_[pos_] == '}') {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd() || text_[pos_] != '"') return Fail("expected a member name");
      std::string name;
      if (absl::Status status = ParseString(name); !status.ok()) return status;
      SkipWhitespace();
      if (AtEnd() || text_[pos_] != ':') return Fail("expected ':' after a member name");
      ++pos_;
      SkipWhitespace();
      JsonValue member;
      if (absl::Status status = ParseValue(member, depth); !status.ok()) return status;
      out.object_.emplace_back(std::move(name), std::move(member));
      SkipWhitespace();
      if (AtEnd()) return Fail("unterminated object");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        return absl::OkStatus();
      }
      return Fail("expected ',' or '}'");
    }
  }

  // Reads 4 hex digits at pos_.
  absl::Status ParseHex4(uint32_t& unit) {
    if (text_.size() - pos_ < 4) return Fail("truncated \\u escape");
    unit = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_];
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("invalid hex digit in \\u escape");
      }
      unit = unit * 16 + digit;
      ++pos_;
    }
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t code_point, std::string& out) {
    if (code_point < 0x80) {
      out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
  }

  // After the backslash: one escape sequence, decoded into `out`.
  absl::Status ParseEscape(std::string& out) {
    if (AtEnd()) return Fail("unterminated string");
    char c = text_[pos_++];
    switch (c) {
      case '"': out.push_back('"'); return absl::OkStatus();
      case '\\': out.push_back('\\'); return absl::OkStatus();
      case '/': out.push_back('/'); return absl::OkStatus();
      case 'b': out.push_back('\b'); return absl::OkStatus();
      case 'f': out.push_back('\f'); return absl::OkStatus();
      case 'n': out.push_back('\n'); return absl::OkStatus();
      case 'r': out.push_back('\r'); return absl::OkStatus();
      case 't': out.push_back('\t'); return absl::OkStatus();
      case 'u': break;
      default:
        --pos_;
        return Fail("invalid escape");
    }
    uint32_t unit = 0;
    if (absl::Status status = ParseHex4(unit); !status.ok()) return status;
    if (unit >= 0xDC00 && unit <= 0xDFFF) return Fail("unpaired low surrogate in \\u escape");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      // A high surrogate must be followed at once by an escaped low surrogate.
      if (!Consume("\\u")) return Fail("unpaired high surrogate in \\u escape");
      uint32_t low = 0;
      if (absl::Status status = ParseHex4(low); !status.ok()) return status;
      if (low < 0xDC00 || low > 0xDFFF) return Fail("high surrogate not followed by a low surrogate");
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(unit, out);
    return absl::OkStatus();
  }

  // The length of the valid UTF-8 sequence starting at pos_ (its lead byte is >= 0x80), or 0.
  size_t Utf8SequenceLength() const {
    auto byte = [&](size_t i) -> unsigned char {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0;
    };
    auto continuation = [&](size_t i, unsigned char low = 0x80, unsigned char high = 0xBF) {
      unsigned char b = byte(i);
      return b >= low && b <= high;
    };
    unsigned char lead = byte(0);
    if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
    if (lead == 0xE0) return continuation(1, 0xA0, 0xBF) && continuation(2) ? 3 : 0;
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return continuation(1) && continuation(2) ? 3 : 0;
    if (lead == 0xED) return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0;  // no surrogates
    if (lead == 0xF0) return continuation(1, 0x90, 0xBF) && continuation(2) && continuation(3) ? 4 : 0;
    if (lead >= 0xF1 && lead <= 0xF3) return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
    if (lead == 0xF4) return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0;
    return 0;
  }

  absl::Status ParseString(std::string& out) {
    ++pos_;  // '"'
    while (true) {
      // Copy the run of plain bytes in one go; stop at a quote, an escape or a byte to check.
      size_t run_start = pos_;
      while (!AtEnd()) {
        unsigned char c = Peek();
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out.append(text_.data() + run_start, pos_ - run_start);
      if (AtEnd()) return Fail("unterminated string");
      unsigned char c = Peek();
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c == '\\') {
        ++pos_;
        if (absl::Status status = ParseEscape(out); !status.ok()) return status;
        continue;
      }
      if (c < 0x20) return Fail("unescaped control character in a string");
      size_t length = Utf8SequenceLength();
      if (length == 0) return Fail("invalid UTF-8 in a string");
      out.append(text_.data() + pos_, length);
      pos_ += length;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

namespace {

void AppendQuoted(const std::string& text, std::string& out) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Compact JSON text of `value` (no spaces), the inverse of ParseJson up to whitespace and escapes.
void AppendJson(const JsonValue& value, std::string& out) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      out += "null";
      return;
    case JsonValue::Type::kBool:
    case JsonValue::Type::kNumber:
      out += value.text();
      return;
    case JsonValue::Type::kString:
      AppendQuoted(value.text(), out);
      return;
    case JsonValue::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const JsonValue& element : value.array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(element, out);
      }
      out.push_back(']');
      return;
    }
    case JsonValue::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [name, member] : value.object()) {
        if (!first) out.push_back(',');
        first = false;
        AppendQuoted(name, out);
        out.push_back(':');
        AppendJson(member, out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

const JsonValue* JsonValue::Find(std::string_view member) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& [name, value] : object_) {
    if (name == member) return &value;
  }
  return nullptr;
}

std::string JsonValue::CompactText() const {
  std::string out;
  AppendJson(*this, out);
  return out;
}

std::string JsonValue::ScalarText() const {
  switch (type_) {
    case Type::kNull:
      return "";
    case Type::kBool:
    case Type::kNumber:
    case Type::kString:
      return text_;
    case Type::kArray:
    case Type::kObject:
      break;
  }
  std::string out;
  AppendJson(*this, out);
  return out;
}

absl::StatusOr<JsonValue> ParseJson(std::string_view text) { return JsonParser(text).ParseDocument(); }

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace strata::loaders
