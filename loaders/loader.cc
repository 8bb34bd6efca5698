#include "loaders/loader.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "loaders/json.h"

namespace strata::loaders {

namespace {

absl::StatusOr<double> NonNegativeNumber(const std::string& option, const std::string& text) {
  double value;
  if (!absl::SimpleAtod(text, &value) || !(value >= 0) || std::isinf(value)) {
    return absl::InvalidArgumentError(absl::StrCat("loader option ", option, ": '", text, "' is not a non-negative number"));
  }
  return value;
}

}  // namespace

absl::StatusOr<LoaderOptions> ParseLoaderOptions(const std::vector<std::string>& words) {
  LoaderOptions options;
  if (words.size() % 2 != 0) return absl::InvalidArgumentError("loader options come in pairs: option value");
  for (size_t i = 0; i < words.size(); i += 2) {
    const std::string& option = words[i];
    const std::string& value = words[i + 1];
    if (option == "type") {
      if (value == "string") {
        options.shape = ValueShape::kString;
      } else if (value == "hash") {
        options.shape = ValueShape::kHash;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("loader option type: '", value, "' (expected string or hash)"));
      }
      continue;
    }
    if (option == "batch-query") {
      options.batch_query = value;
      continue;
    }
    if (option == "redact") {
      for (absl::string_view column : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        options.redact.push_back(std::string(absl::StripAsciiWhitespace(column)));
      }
      if (options.redact.empty()) return absl::InvalidArgumentError("loader option redact: expected COLUMN[,COLUMN...]");
      continue;
    }
    auto number = NonNegativeNumber(option, value);
    if (!number.ok()) return number.status();
    if (option == "ttl") {
      options.ttl_ms = static_cast<int64_t>(*number * 1000);
    } else if (option == "jitter") {
      options.jitter_percent = *number;
    } else if (option == "stale") {
      options.stale_ms = static_cast<int64_t>(*number * 1000);
    } else if (option == "negative-ttl") {
      options.negative_ttl_ms = static_cast<int64_t>(*number * 1000);
    } else if (option == "timeout") {
      if (*number < 1) return absl::InvalidArgumentError("loader option timeout: at least 1 ms");
      options.timeout = std::chrono::milliseconds(static_cast<int64_t>(*number));
    } else if (option == "max-ttl") {
      if (*number * 1000 < 1 || *number > kMaxTtlCapSeconds) {
        return absl::InvalidArgumentError("loader option max-ttl: from 0.001 seconds to 100 years");
      }
      options.max_ttl_ms = static_cast<int64_t>(*number * 1000);
    } else if (option == "refresh-ahead") {
      if (*number >= 100) return absl::InvalidArgumentError("loader option refresh-ahead: a percentage below 100");
      options.refresh_ahead_percent = *number;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown loader option '", option, "'"));
    }
  }
  if ((options.stale_ms > 0 || options.refresh_ahead_percent > 0) && options.ttl_ms == 0) {
    return absl::InvalidArgumentError("loader options stale and refresh-ahead need a ttl");
  }
  return options;
}

void Redact(const LoaderOptions& options, LoadOutcome& outcome) {
  if (options.redact.empty() || outcome.kind != LoadOutcome::Kind::kFound) return;
  auto redacted = [&](std::string_view name) {
    return std::any_of(options.redact.begin(), options.redact.end(),
                       [&](const std::string& column) { return absl::EqualsIgnoreCase(column, absl::string_view(name.data(), name.size())); });
  };
  if (options.shape == ValueShape::kHash) {
    std::erase_if(outcome.fields, [&](const auto& field) { return redacted(field.first); });
    return;
  }
  absl::StatusOr<JsonValue> json = ParseJson(outcome.value);
  if (!json.ok() || json->type() != JsonValue::Type::kObject) {
    // Fields that cannot be found cannot be removed: the value is refused, never stored whole.
    outcome = LoadOutcome::Error("redact: the value is not a JSON object, so its columns cannot be removed");
    return;
  }
  std::string kept = "{";
  for (const auto& [name, member] : json->object()) {
    if (redacted(name)) continue;
    if (kept.size() > 1) kept += ',';
    kept += JsonQuote(name);
    kept += ':';
    kept += member.CompactText();
  }
  kept += '}';
  outcome.value = std::move(kept);
}

}  // namespace strata::loaders
