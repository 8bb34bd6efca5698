#include "storage/dict.h"

#include <cstdlib>
#include <new>
#include <utility>

#include "absl/hash/hash.h"

namespace strata::storage {

namespace {
constexpr size_t kInitialBuckets = 4;
}  // namespace

uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

uint64_t HashKey(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

Dict::~Dict() { std::free(buckets_); }

Dict::Dict(Dict&& other) noexcept
    : buckets_(std::exchange(other.buckets_, nullptr)),
      bucket_count_(std::exchange(other.bucket_count_, 0)),
      size_(std::exchange(other.size_, 0)) {}

Dict& Dict::operator=(Dict&& other) noexcept {
  if (this != &other) {
    std::free(buckets_);
    buckets_ = std::exchange(other.buckets_, nullptr);
    bucket_count_ = std::exchange(other.bucket_count_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Entry* Dict::Find(std::string_view key, uint64_t hash) const {
  if (bucket_count_ == 0) return nullptr;
  for (Entry* e = buckets_[hash & (bucket_count_ - 1)]; e != nullptr; e = e->next()) {
    if (e->key() == key) return e;
  }
  return nullptr;
}

void Dict::Insert(Entry* entry, uint64_t hash) {
  if (size_ >= bucket_count_) Resize(bucket_count_ == 0 ? kInitialBuckets : bucket_count_ * 2);
  Entry** bucket = &buckets_[hash & (bucket_count_ - 1)];
  entry->set_next(*bucket);
  *bucket = entry;
  ++size_;
}

Entry* Dict::Remove(std::string_view key, uint64_t hash) {
  if (bucket_count_ == 0) return nullptr;
  for (Entry** link = &buckets_[hash & (bucket_count_ - 1)]; *link != nullptr; link = (*link)->next_link()) {
    Entry* e = *link;
    if (e->key() == key) {
      *link = e->next();
      e->set_next(nullptr);
      --size_;
      return e;
    }
  }
  return nullptr;
}

void Dict::Replace(Entry* current, Entry* replacement, uint64_t hash) {
  for (Entry** link = &buckets_[hash & (bucket_count_ - 1)]; *link != nullptr; link = (*link)->next_link()) {
    if (*link == current) {
      replacement->set_next(current->next());
      *link = replacement;
      current->set_next(nullptr);
      return;
    }
  }
}

void Dict::MaybeShrink() {
  if (bucket_count_ > kInitialBuckets && size_ * 8 < bucket_count_) {
    size_t target = kInitialBuckets;
    while (target < size_) target *= 2;
    Resize(target);
  }
}

void Dict::Resize(size_t new_bucket_count) {
  Entry** new_buckets = nullptr;
  if (new_bucket_count > 0) {
    new_buckets = static_cast<Entry**>(std::calloc(new_bucket_count, sizeof(Entry*)));
    if (new_buckets == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < bucket_count_; ++i) {
      Entry* e = buckets_[i];
      while (e != nullptr) {
        Entry* next = e->next();
        Entry** bucket = &new_buckets[HashKey(e->key()) & (new_bucket_count - 1)];
        e->set_next(*bucket);
        *bucket = e;
        e = next;
      }
    }
  }
  std::free(buckets_);
  buckets_ = new_buckets;
  bucket_count_ = new_bucket_count;
}

uint64_t Dict::NextCursor(uint64_t cursor, uint64_t mask) {
  // Increment the reversed cursor: set the unmasked bits so the carry propagates through the
  // masked ones only, then reverse, add one, reverse back (Pieter Noordhuis's algorithm).
  cursor |= ~mask;
  cursor = ReverseBits(cursor);
  ++cursor;
  cursor = ReverseBits(cursor);
  return cursor;
}

Entry* Dict::RandomEntry(uint64_t random) const {
  if (size_ == 0) return nullptr;
  // Probe random buckets until a non-empty one, then a random element of its chain.
  uint64_t state = random | 1;
  for (;;) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    Entry* head = buckets_[(state >> 17) & (bucket_count_ - 1)];
    if (head == nullptr) continue;
    size_t length = 0;
    for (Entry* e = head; e != nullptr; e = e->next()) ++length;
    size_t pick = (state >> 40) % length;
    Entry* e = head;
    while (pick-- > 0) e = e->next();
    return e;
  }
}

}  // namespace strata::storage
