#include "storage/hash.h"

#include "absl/strings/string_view.h"

namespace strata::storage {

namespace {
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

HashValue::HashValue(const HashValue& other) : compact_(other.compact_) {
  if (other.table_) table_ = std::make_unique<absl::flat_hash_map<std::string, std::string>>(*other.table_);
}

const std::string* HashValue::Find(std::string_view field) const {
  if (table_) {
    auto it = table_->find(AsAbsl(field));
    return it == table_->end() ? nullptr : &it->second;
  }
  for (const auto& [name, value] : compact_) {
    if (name == field) return &value;
  }
  return nullptr;
}

bool HashValue::Set(std::string_view field, std::string_view value) {
  if (!table_ && (field.size() > kMaxCompactLength || value.size() > kMaxCompactLength)) ConvertToTable();
  if (table_) {
    auto [it, inserted] = table_->try_emplace(AsAbsl(field));
    it->second.assign(value);
    return inserted;
  }
  for (auto& [name, existing] : compact_) {
    if (name == field) {
      existing.assign(value);
      return false;
    }
  }
  compact_.emplace_back(std::string(field), std::string(value));
  if (compact_.size() > kMaxCompactFields) ConvertToTable();
  return true;
}

bool HashValue::Erase(std::string_view field) {
  if (table_) return table_->erase(AsAbsl(field)) > 0;
  for (auto it = compact_.begin(); it != compact_.end(); ++it) {
    if (it->first == field) {
      compact_.erase(it);
      return true;
    }
  }
  return false;
}

void HashValue::ConvertToTable() {
  table_ = std::make_unique<absl::flat_hash_map<std::string, std::string>>();
  table_->reserve(compact_.size() + 1);
  for (auto& [field, value] : compact_) table_->emplace(std::move(field), std::move(value));
  compact_.clear();
  compact_.shrink_to_fit();
}

size_t HashValue::ApproximateBytes() const {
  size_t bytes = sizeof(HashValue);
  auto strings = [&](const std::string& a, const std::string& b) {
    // Short strings live inside the std::string object (SSO); longer ones own a heap block.
    bytes += (a.capacity() > 15 ? a.capacity() + 1 : 0) + (b.capacity() > 15 ? b.capacity() + 1 : 0);
  };
  if (table_) {
    bytes += table_->capacity() * (sizeof(std::pair<std::string, std::string>) + 1);
    for (const auto& [field, value] : *table_) strings(field, value);
  } else {
    bytes += compact_.capacity() * sizeof(std::pair<std::string, std::string>);
    for (const auto& [field, value] : compact_) strings(field, value);
  }
  return bytes;
}

}  // namespace strata::storage
