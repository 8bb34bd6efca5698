// libFuzzer target for the JSON reader (loaders/json.h), which parses HTTP source bodies, and
// for the invalidation message parser on top of it (loaders/invalidation_message.h), which reads
// PUBLISH and NOTIFY payloads from the network. Properties: no crash, no sanitizer report; an
// accepted document's ScalarText (compact JSON for objects and arrays) parses again; an accepted
// invalidation message names something to drop, in a database that exists.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loaders/invalidation_message.h"
#include "loaders/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto message = strata::loaders::ParseInvalidationMessage(text, 16); message.ok()) {
    if (message->keys.empty() && message->patterns.empty()) abort();
    if (message->db < 0 || message->db >= 16) abort();
  }
  auto parsed = strata::loaders::ParseJson(text);
  if (!parsed.ok()) return 0;
  using Type = strata::loaders::JsonValue::Type;
  if (parsed->type() == Type::kObject || parsed->type() == Type::kArray) {
    if (!strata::loaders::ParseJson(parsed->ScalarText()).ok()) abort();
  }
  return 0;
}
