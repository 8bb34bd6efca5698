// A small JSON reader: enough for HTTP source bodies (a hash loader maps an object's members to
// fields) and invalidation messages ({"key": K}, {"keys": [...]}, {"pattern": G}).
// Strict RFC 8259 syntax, UTF-8 passed through, \uXXXX escapes (with surrogate pairs) decoded,
// nesting limited to kMaxDepth, trailing non-space text rejected.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::loaders {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  static constexpr int kMaxDepth = 64;

  Type type() const { return type_; }
  // kString: the decoded text; kNumber and kBool: the literal as written ("12.5", "true").
  const std::string& text() const { return text_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::vector<std::pair<std::string, JsonValue>>& object() const { return object_; }
  // The first member with this name (kObject), or nullptr.
  const JsonValue* Find(std::string_view member) const;
  // A scalar as a Redis value: strings unquoted, numbers and booleans as written, null as "";
  // arrays and objects as compact JSON text.
  std::string ScalarText() const;
  // The value as compact JSON text (no spaces): the inverse of ParseJson up to whitespace and escapes.
  std::string CompactText() const;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  std::string text_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view text);

// `text` as a JSON string literal, quotes included: '"', '\\' and control characters escaped,
// other bytes (UTF-8) as they are.
std::string JsonQuote(std::string_view text);

}  // namespace strata::loaders
