// libFuzzer target for the RESP request parser. Properties checked on every input:
//   - no crash, no sanitizer report, no unbounded allocation;
//   - progress: kOk always consumes at least one byte and never more than it was given;
//   - incremental feeding (the input re-presented in two growing pieces) yields the same
//     commands and the same final state as feeding it whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/request_parser.h"

namespace {

using strata::protocol::ParserLimits;
using strata::protocol::RequestParser;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  bool error = false;
  std::string error_text;
};

// Parses `data` as a connection would when `visible` bytes have arrived so far, then all of it.
Outcome ParseAll(const uint8_t* data, size_t size, size_t first_chunk) {
  ParserLimits limits;
  limits.max_bulk_len = 1 << 20;
  RequestParser parser(limits);
  Outcome outcome;
  size_t offset = 0;
  size_t visible = first_chunk < size ? first_chunk : size;
  while (offset < size) {
    auto result = parser.Parse(reinterpret_cast<const char*>(data) + offset, visible - offset);
    if (result == RequestParser::Result::kError) {
      outcome.error = true;
      outcome.error_text = parser.error();
      return outcome;
    }
    if (result == RequestParser::Result::kNeedMore) {
      if (visible == size) return outcome;
      visible = size;
      continue;
    }
    if (parser.consumed() == 0 || parser.consumed() > visible - offset) abort();
    std::vector<std::string> command;
    for (auto arg : parser.args()) command.emplace_back(arg);
    if (!command.empty()) outcome.commands.push_back(std::move(command));
    offset += parser.consumed();
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Outcome whole = ParseAll(data, size, size);
  if (size > 1) {
    Outcome split = ParseAll(data, size, data[0] % size);
    if (split.commands != whole.commands || split.error != whole.error || split.error_text != whole.error_text) {
      abort();
    }
  }
  return 0;
}
