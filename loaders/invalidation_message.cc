#include "loaders/invalidation_message.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "loaders/json.h"

namespace strata::loaders {

namespace {

absl::Status Malformed(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalidation message: ", absl::string_view(why.data(), why.size())));
}

absl::StatusOr<int64_t> IntegerMember(const JsonValue& value, std::string_view name) {
  int64_t n;
  if (value.type() != JsonValue::Type::kNumber || !absl::SimpleAtoi(value.text(), &n)) {
    return Malformed(absl::StrCat("\"", absl::string_view(name.data(), name.size()), "\" must be an integer"));
  }
  return n;
}

}  // namespace

absl::StatusOr<InvalidationRequest> ParseInvalidationMessage(std::string_view payload, int databases) {
  absl::string_view stripped = absl::StripAsciiWhitespace(absl::string_view(payload.data(), payload.size()));
  std::string_view text(stripped.data(), stripped.size());
  if (text.empty()) return Malformed("empty");
  InvalidationRequest request;
  if (text.front() != '{') {
    request.keys.emplace_back(text);
    return request;
  }
  auto json = ParseJson(text);
  if (!json.ok()) return Malformed(std::string_view(json.status().message().data(), json.status().message().size()));
  if (json->type() != JsonValue::Type::kObject) return Malformed("expected a key or a JSON object");
  for (const auto& [name, value] : json->object()) {
    if (name == "key") {
      if (value.type() != JsonValue::Type::kString) return Malformed("\"key\" must be a string");
      request.keys.push_back(value.text());
    } else if (name == "keys") {
      if (value.type() != JsonValue::Type::kArray) return Malformed("\"keys\" must be an array of strings");
      for (const JsonValue& item : value.array()) {
        if (item.type() != JsonValue::Type::kString) return Malformed("\"keys\" must be an array of strings");
        request.keys.push_back(item.text());
      }
    } else if (name == "pattern") {
      if (value.type() != JsonValue::Type::kString) return Malformed("\"pattern\" must be a string");
      request.patterns.push_back(value.text());
    } else if (name == "db") {
      auto db = IntegerMember(value, "db");
      if (!db.ok()) return db.status();
      if (*db < 0 || *db >= databases) return Malformed("\"db\" is out of range");
      request.db = static_cast<int>(*db);
    } else if (name == "ts") {
      auto ts = IntegerMember(value, "ts");
      if (!ts.ok()) return ts.status();
      request.ts_ms = *ts;
    }
    // Other members are the publisher's business (an event id, a table name): ignored.
  }
  if (request.keys.empty() && request.patterns.empty()) {
    return Malformed("expected \"key\", \"keys\" or \"pattern\"");
  }
  return request;
}

}  // namespace strata::loaders
