#include "loaders/source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace strata::loaders {

LoadOutcome LoadOutcome::Found(std::string value) {
  LoadOutcome outcome;
  outcome.kind = Kind::kFound;
  outcome.value = std::move(value);
  return outcome;
}

LoadOutcome LoadOutcome::FoundHash(std::vector<std::pair<std::string, std::string>> fields) {
  LoadOutcome outcome;
  outcome.kind = fields.empty() ? Kind::kNotFound : Kind::kFound;
  outcome.fields = std::move(fields);
  return outcome;
}

LoadOutcome LoadOutcome::NotFound() { return LoadOutcome(); }

LoadOutcome LoadOutcome::Error(std::string reason, bool timed_out) {
  LoadOutcome outcome;
  outcome.kind = Kind::kError;
  outcome.error = std::move(reason);
  outcome.timed_out = timed_out;
  return outcome;
}

absl::StatusOr<std::unique_ptr<Source>> MakeSource(const std::string& name, const std::string& url,
                                                   const SourceOptions& options) {
  if (absl::StartsWith(url, "sqlite:")) return MakeSqliteSource(name, url.substr(7), options);
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return MakePostgresSource(name, url, options);
  }
  if (absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://")) return MakeHttpSource(name, url, options);
  return absl::InvalidArgumentError(
      absl::StrCat("source ", name, ": unsupported URL (expected sqlite:PATH, postgresql://... or http://...)"));
}

}  // namespace strata::loaders
