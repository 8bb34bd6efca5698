// libFuzzer target for the JSON reader (loaders/json.h), which parses invalidation messages
// from the network (NOTIFY payloads) and HTTP source bodies. Properties: no crash, no sanitizer
// report; an accepted document's ScalarText (compact JSON for objects and arrays) parses again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "loaders/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = strata::loaders::ParseJson(text);
  if (!parsed.ok()) return 0;
  using Type = strata::loaders::JsonValue::Type;
  if (parsed->type() == Type::kObject || parsed->type() == Type::kArray) {
    if (!strata::loaders::ParseJson(parsed->ScalarText()).ok()) abort();
  }
  return 0;
}
