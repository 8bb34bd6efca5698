// KeyTemplate: a loader's key pattern, literal text with {name} captures, e.g.
// "product:{id}" or "tenant:{t}:user:{id}:v2".
//
// Matching rule (DESIGN.md section 6): a capture matches one or more characters up to the next
// literal (its first occurrence), or to the end of the key when it is last. So
// "tenant:{t}:user:{id}:v2" matches "tenant:acme:user:42:v2" with t=acme, id=42, and does not
// match "tenant::user:42:v2" (empty capture). Two captures must be separated by a literal.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::loaders {

class KeyTemplate {
 public:
  static absl::StatusOr<KeyTemplate> Parse(std::string_view text);

  // The capture values, in the order of capture_names(), or nullopt if the key does not match.
  std::optional<std::vector<std::string>> Match(std::string_view key) const;
  // The same test without collecting the captures (no allocation: it runs on every read).
  bool Matches(std::string_view key) const { return MatchInto(key, nullptr); }

  const std::string& text() const { return text_; }
  // A glob (Redis's rules) matching the keys the template matches: literals escaped, each
  // capture '*' ("product:{id}" -> "product:*"; it also matches an empty capture).
  std::string Glob() const;
  const std::vector<std::string>& capture_names() const { return capture_names_; }
  // Index of a capture by name, or -1.
  int CaptureIndex(std::string_view name) const;

 private:
  bool MatchInto(std::string_view key, std::vector<std::string>* captures) const;

  struct Part {
    bool is_capture;
    std::string text;  // the literal, or the capture's name
  };
  std::string text_;
  std::vector<Part> parts_;
  std::vector<std::string> capture_names_;
};

}  // namespace strata::loaders
