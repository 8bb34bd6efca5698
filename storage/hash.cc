#include "storage/hash.h"

#include "absl/strings/string_view.h"

namespace strata::storage {

namespace {
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Heap bytes a std::string owns: short strings live inside the object (SSO).
size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }
}  // namespace

HashValue::HashValue(const HashValue& other) : compact_(other.compact_) {
  if (other.table_) table_ = std::make_unique<absl::flat_hash_map<std::string, std::string>>(*other.table_);
  RecountStringBytes();
}

void HashValue::RecountStringBytes() {
  string_bytes_ = 0;
  if (table_) {
    for (const auto& [field, value] : *table_) string_bytes_ += HeapBytes(field) + HeapBytes(value);
  } else {
    for (const auto& [field, value] : compact_) string_bytes_ += HeapBytes(field) + HeapBytes(value);
  }
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
    if (inserted) string_bytes_ += HeapBytes(it->first);
    string_bytes_ -= HeapBytes(it->second);
    it->second.assign(value);
    string_bytes_ += HeapBytes(it->second);
    return inserted;
  }
  for (auto& [name, existing] : compact_) {
    if (name == field) {
      string_bytes_ -= HeapBytes(existing);
      existing.assign(value);
      string_bytes_ += HeapBytes(existing);
      return false;
    }
  }
  compact_.emplace_back(std::string(field), std::string(value));
  string_bytes_ += HeapBytes(compact_.back().first) + HeapBytes(compact_.back().second);
  if (compact_.size() > kMaxCompactFields) ConvertToTable();
  return true;
}

bool HashValue::Erase(std::string_view field) {
  if (table_) {
    auto it = table_->find(AsAbsl(field));
    if (it == table_->end()) return false;
    string_bytes_ -= HeapBytes(it->first) + HeapBytes(it->second);
    table_->erase(it);
    return true;
  }
  for (auto it = compact_.begin(); it != compact_.end(); ++it) {
    if (it->first == field) {
      compact_.erase(it);
      // Erasing shifts the later strings down by move-assignment, and a moved-into string may
      // keep its own heap buffer: recount (at most kMaxCompactFields fields).
      RecountStringBytes();
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
  RecountStringBytes();  // moved strings keep their buffers, but count them afresh once
}

size_t HashValue::ApproximateBytes() const {
  // O(1): the strings' heap bytes are kept up to date by every change.
  if (table_) return sizeof(HashValue) + table_->capacity() * (sizeof(std::pair<std::string, std::string>) + 1) + string_bytes_;
  return sizeof(HashValue) + compact_.capacity() * sizeof(std::pair<std::string, std::string>) + string_bytes_;
}

}  // namespace strata::storage
