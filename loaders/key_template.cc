#include "loaders/key_template.h"

#include "absl/strings/str_cat.h"

namespace strata::loaders {

absl::StatusOr<KeyTemplate> KeyTemplate::Parse(std::string_view text) {
  KeyTemplate result;
  result.text_ = std::string(text);
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      size_t close = text.find('}', i);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("key template '", std::string(text), "': unclosed '{'"));
      }
      std::string name(text.substr(i + 1, close - i - 1));
      if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("key template '", std::string(text), "': empty capture name"));
      for (char c : name) {
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '_')) {
          return absl::InvalidArgumentError(
              absl::StrCat("key template '", std::string(text), "': capture names are letters, digits and '_'"));
        }
      }
      if (result.CaptureIndex(name) >= 0) {
        return absl::InvalidArgumentError(absl::StrCat("key template '", std::string(text), "': capture {", name, "} repeats"));
      }
      if (!result.parts_.empty() && result.parts_.back().is_capture) {
        return absl::InvalidArgumentError(
            absl::StrCat("key template '", std::string(text), "': two captures need a literal between them"));
      }
      result.parts_.push_back({true, name});
      result.capture_names_.push_back(name);
      i = close + 1;
    } else {
      size_t next = text.find('{', i);
      if (next == std::string_view::npos) next = text.size();
      std::string_view literal = text.substr(i, next - i);
      if (literal.find('}') != std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("key template '", std::string(text), "': unmatched '}'"));
      }
      result.parts_.push_back({false, std::string(literal)});
      i = next;
    }
  }
  if (result.capture_names_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("key template '", std::string(text), "' has no {capture}"));
  }
  return result;
}

int KeyTemplate::CaptureIndex(std::string_view name) const {
  for (size_t i = 0; i < capture_names_.size(); ++i) {
    if (capture_names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::optional<std::vector<std::string>> KeyTemplate::Match(std::string_view key) const {
  std::vector<std::string> captures;
  if (!MatchInto(key, &captures)) return std::nullopt;
  return captures;
}

bool KeyTemplate::MatchInto(std::string_view key, std::vector<std::string>* captures) const {
  size_t pos = 0;
  for (size_t p = 0; p < parts_.size(); ++p) {
    const Part& part = parts_[p];
    if (!part.is_capture) {
      if (key.substr(pos, part.text.size()) != part.text) return false;
      pos += part.text.size();
      continue;
    }
    size_t end;
    if (p + 1 == parts_.size()) {
      end = key.size();
    } else {
      // The next part is a literal: the capture runs to its first occurrence, at least one char on.
      end = key.find(parts_[p + 1].text, pos + 1);
      if (end == std::string_view::npos) return false;
    }
    if (end <= pos) return false;
    if (captures != nullptr) captures->emplace_back(key.substr(pos, end - pos));
    pos = end;
  }
  return pos == key.size();
}

std::string KeyTemplate::Glob() const {
  std::string glob;
  for (const Part& part : parts_) {
    if (part.is_capture) {
      glob += '*';
      continue;
    }
    for (char c : part.text) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') glob += '\\';
      glob += c;
    }
  }
  return glob;
}

}  // namespace strata::loaders
