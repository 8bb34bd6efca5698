// KeyFamilies: named key globs ("product:*") whose hit ratio, keys, memory and evictions are
// counted apart (DESIGN section 5, `stats-key-family`; every loader template is one too). The
// first metric the caching literature asks for is the hit ratio per family of keys, not overall:
// a 95% overall ratio can hide a family that always misses.
//
// How a key is classified, fast enough for every lookup: families are tried in the order given
// and the first that matches wins. A glob that is a literal prefix followed by one '*' (the usual
// "user:*") is a memcmp; any other glob is a glob match. Before any of that, a table by the key's
// first byte lists the families that could match a key starting with it: for "user:*" and
// "product:*", a key "key:42" is refused by one table read, and "user:7" tries one memcmp.
//
// Contract: immutable once built (made at start-up, before serving); any thread may classify.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace strata::storage {

class KeyFamilies {
 public:
  struct Family {
    std::string name;
    std::string glob;
  };
  static constexpr size_t kMaxFamilies = 256;

  // At most kMaxFamilies (the rest are ignored).
  explicit KeyFamilies(std::vector<Family> families);

  // The index of the first family whose glob matches `key`, or -1.
  int Classify(std::string_view key) const {
    const std::vector<uint16_t>& candidates = by_first_byte_[key.empty() ? 256 : static_cast<unsigned char>(key[0])];
    for (uint16_t index : candidates) {
      if (Matches(matchers_[index], key)) return index;
    }
    return -1;
  }
  size_t size() const { return families_.size(); }
  const Family& family(size_t index) const { return families_[index]; }

 private:
  struct Matcher {
    bool prefix_only;    // glob is prefix + "*": a memcmp
    std::string prefix;  // the literal text before the first special character
    std::string glob;
    // The prefix's first 8 bytes as a word, and the mask of the bytes it has: a key of 8 bytes
    // or more is told apart with one load and compare (this runs for every read of a key).
    uint64_t head = 0, head_mask = 0;
  };
  static bool Matches(const Matcher& m, std::string_view key) {
    const size_t n = m.prefix.size();
    if (key.size() < n) return false;
    if (key.size() >= 8) {
      uint64_t word;
      std::memcpy(&word, key.data(), 8);
      if ((word & m.head_mask) != m.head) return false;
      if (n > 8 && std::memcmp(key.data() + 8, m.prefix.data() + 8, n - 8) != 0) return false;
    } else if (std::memcmp(key.data(), m.prefix.data(), n) != 0) {
      return false;
    }
    return m.prefix_only || MatchesGlob(m, key);
  }
  static bool MatchesGlob(const Matcher& m, std::string_view key);

  std::vector<Family> families_;
  std::vector<Matcher> matchers_;
  // [first byte of the key] -> families that may match, in order; [256]: the empty key.
  std::array<std::vector<uint16_t>, 257> by_first_byte_;
};

// Per shard, per family: lookups that hit or missed, keys evicted. Written under the shard's
// lock, read by anyone.
struct KeyFamilyCounters {
  std::atomic<uint64_t> hits{0}, misses{0}, evictions{0};
};

// A family's figures: counters summed over shards, and keys and memory from the last census
// (a periodic walk of the keyspace, see Keyspace::KeyFamilyCensusStep).
struct KeyFamilyStats {
  std::string name;
  std::string glob;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t keys = 0;
  uint64_t memory_bytes = 0;
};

}  // namespace strata::storage
