// A small JSON reader and string quoting, enough for strata-bench to read back the reports it
// writes (--compare) without a JSON library dependency.
//
// Contract: ParseJson accepts RFC 8259 JSON (nesting limited to kMaxJsonDepth) and returns
// the document, or an InvalidArgument Status naming the byte offset of the first problem.
#ifndef STRATA_BENCH_JSON_VALUE_H_
#define STRATA_BENCH_JSON_VALUE_H_

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace strata_bench {

inline constexpr int kMaxJsonDepth = 64;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<std::pair<std::string, JsonValue>> object;  // in document order

  // The member named `key` of an object, or nullptr (also for non-objects).
  const JsonValue* Find(absl::string_view key) const;
};

absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace strata_bench

#endif  // STRATA_BENCH_JSON_VALUE_H_
