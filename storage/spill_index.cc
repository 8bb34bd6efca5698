#include "storage/spill_index.h"

#include <bit>
#include <utility>

#include "absl/container/btree_map.h"
#include "storage/dict.h"

namespace strata::storage {

// A multimap: two keys of one table can share a 64-bit hash (rarely), and both are kept. Entries
// live out of line: a node then holds about fifteen 16-byte slots instead of three 72-byte ones,
// so a lookup touches three levels, not eight (it cost 9% of a spill read load's CPU inline).
struct SpillIndex::Tree {
  absl::btree_multimap<uint64_t, std::unique_ptr<SpilledKey>> by_reversed_hash;
};

SpillIndex::SpillIndex() = default;
SpillIndex::~SpillIndex() = default;
SpillIndex::SpillIndex(SpillIndex&& other) noexcept
    : tree_(std::move(other.tree_)),
      size_(std::exchange(other.size_, 0)),
      record_bytes_(std::exchange(other.record_bytes_, 0)) {}
SpillIndex& SpillIndex::operator=(SpillIndex&& other) noexcept {
  tree_ = std::move(other.tree_);
  size_ = std::exchange(other.size_, 0);
  record_bytes_ = std::exchange(other.record_bytes_, 0);
  return *this;
}

const SpilledKey* SpillIndex::Find(uint64_t hash, std::string_view key) const {
  if (size_ == 0) return nullptr;
  auto [first, last] = tree_->by_reversed_hash.equal_range(ReverseBits(hash));
  for (auto it = first; it != last; ++it) {
    if (it->second->key == key) return it->second.get();
  }
  return nullptr;
}

void SpillIndex::Put(uint64_t hash, SpilledKey entry) {
  if (tree_ == nullptr) tree_ = std::make_unique<Tree>();
  auto [first, last] = tree_->by_reversed_hash.equal_range(ReverseBits(hash));
  for (auto it = first; it != last; ++it) {
    if (it->second->key == entry.key) {
      record_bytes_ += entry.record_bytes;
      record_bytes_ -= it->second->record_bytes;
      *it->second = std::move(entry);
      return;
    }
  }
  record_bytes_ += entry.record_bytes;
  tree_->by_reversed_hash.emplace(ReverseBits(hash), std::make_unique<SpilledKey>(std::move(entry)));
  ++size_;
}

bool SpillIndex::Erase(uint64_t hash, std::string_view key) {
  if (size_ == 0) return false;
  auto [first, last] = tree_->by_reversed_hash.equal_range(ReverseBits(hash));
  for (auto it = first; it != last; ++it) {
    if (it->second->key == key) {
      record_bytes_ -= it->second->record_bytes;
      tree_->by_reversed_hash.erase(it);
      --size_;
      return true;
    }
  }
  return false;
}

void SpillIndex::Clear() {
  tree_.reset();
  size_ = 0;
  record_bytes_ = 0;
}

void SpillIndex::ForEachInBucket(uint64_t bucket, uint64_t mask,
                                 absl::FunctionRef<void(uint64_t, const SpilledKey&)> fn) const {
  if (size_ == 0) return;
  // Hashes with (h & mask) == (bucket & mask) are, reversed, those whose top k bits are the
  // reversed bucket's: one range of the tree.
  const int k = std::popcount(mask);
  const auto& tree = tree_->by_reversed_hash;
  if (k == 0) {
    ForEach(fn);
    return;
  }
  const uint64_t first = ReverseBits(bucket & mask);
  const uint64_t after_last = first + (uint64_t{1} << (64 - k));  // wraps to 0 for the last range
  const auto end = after_last == 0 ? tree.end() : tree.lower_bound(after_last);
  for (auto it = tree.lower_bound(first); it != end; ++it) fn(ReverseBits(it->first), *it->second);
}

void SpillIndex::ForEach(absl::FunctionRef<void(uint64_t, const SpilledKey&)> fn) const {
  if (size_ == 0) return;
  for (const auto& [reversed, entry] : tree_->by_reversed_hash) fn(ReverseBits(reversed), *entry);
}

const SpilledKey* SpillIndex::Random(uint64_t random, uint64_t* hash) const {
  if (size_ == 0) return nullptr;
  // Hashes are uniform, so the first entry at or after a uniform point is a near-uniform pick.
  const auto& tree = tree_->by_reversed_hash;
  auto it = tree.lower_bound(random);
  if (it == tree.end()) it = tree.begin();
  *hash = ReverseBits(it->first);
  return it->second.get();
}

}  // namespace strata::storage
