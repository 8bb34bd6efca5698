// HashValue: the fields of a hash key.
//
// Like Redis, a small hash (at most kMaxCompactFields fields, none longer than
// kMaxCompactLength bytes) is kept compact, here as a vector of pairs in insertion order
// (HGETALL answers in that order, as Redis's listpack does), and moves to a hash table when it
// grows past either limit. OBJECT ENCODING reports "listpack" or "hashtable" accordingly.
// Not thread-safe: the entry's shard lock guards it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace strata::storage {

class HashValue {
 public:
  static constexpr size_t kMaxCompactFields = 128;  // Redis's hash-max-listpack-entries
  static constexpr size_t kMaxCompactLength = 64;   // Redis's hash-max-listpack-value

  HashValue() = default;
  HashValue(const HashValue& other);

  size_t size() const { return table_ ? table_->size() : compact_.size(); }
  // The field's value, or nullptr.
  const std::string* Find(std::string_view field) const;
  // Sets a field; returns true if it is new.
  bool Set(std::string_view field, std::string_view value);
  // Removes a field; returns true if it was there.
  bool Erase(std::string_view field);
  // Calls fn(field, value) for every field.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (table_) {
      for (const auto& [field, value] : *table_) fn(std::string_view(field), std::string_view(value));
    } else {
      for (const auto& [field, value] : compact_) fn(std::string_view(field), std::string_view(value));
    }
  }
  std::string_view encoding() const { return table_ ? "hashtable" : "listpack"; }
  // Heap bytes held, for memory accounting (string capacities plus containers), in O(1).
  size_t ApproximateBytes() const;

 private:
  void ConvertToTable();
  void RecountStringBytes();

  std::vector<std::pair<std::string, std::string>> compact_;
  std::unique_ptr<absl::flat_hash_map<std::string, std::string>> table_;
  size_t string_bytes_ = 0;  // heap bytes of the field and value strings
};

}  // namespace strata::storage
