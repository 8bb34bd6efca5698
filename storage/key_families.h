// KeyFamilies: named key globs ("product:*") whose hit ratio, keys, memory and evictions are
// counted apart (DESIGN section 5, `stats-key-family`; every loader template is one too). The
// first metric the caching literature asks for is the hit ratio per family of keys, not overall:
// a 95% overall ratio can hide a family that always misses.
//
// How a key is classified, fast enough for every lookup: families are tried in the order given
// and the first that matches wins. A glob that is a literal prefix followed by one '*' (the usual
// "user:*") is a compare of the key's first word; any other glob is a glob match after that.
// Before any of that, a table by the key's first byte lists the families that could match a key
// starting with it: for "user:*" and "product:*", a key "key:42" is refused by one table read,
// and "user:7" tries one compare. (A key found in the keyspace is classified once: its entry
// remembers its family, Entry::family_tag.)
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
    // A cap on the TTL of the family's keys (0: none): `max-ttl` of its loader or
    // `key-family-max-ttl`. No write leaves a key of it living longer (Transaction::CapTtl).
    int64_t max_ttl_ms = 0;
  };
  static constexpr size_t kMaxFamilies = 256;

  // At most kMaxFamilies (the rest are ignored).
  explicit KeyFamilies(std::vector<Family> families);

  // The index of the first family whose glob matches `key`, or -1.
  int Classify(std::string_view key) const {
    const ProbeRange range = by_first_byte_[key.empty() ? 256 : static_cast<unsigned char>(key[0])];
    if (key.size() < 8) return ClassifyShortKey(key, range);
    uint64_t head;
    std::memcpy(&head, key.data(), 8);
    for (const Probe *probe = probes_.data() + range.begin, *end = probe + range.count; probe != end; ++probe) {
      if ((head & probe->head_mask) == probe->head && (!probe->check_rest || MatchesRest(probe->family, key))) {
        return probe->family;
      }
    }
    return -1;
  }
  size_t size() const { return families_.size(); }
  const Family& family(size_t index) const { return families_[index]; }

 private:
  // One family as tried for keys of a first byte: the glob's literal prefix, up to its first
  // 8 bytes, as a word and the mask of the bytes it has, so that for a key of 8 bytes or more a
  // family whose glob is a prefix of at most 8 bytes and one '*' (the usual "user:*") is told
  // apart with one load, mask and compare. The probes of a first byte are contiguous and in
  // the families' order (the first that matches wins).
  struct Probe {
    uint64_t head = 0;
    uint64_t head_mask = 0;
    uint16_t family = 0;
    bool check_rest = false;  // a longer prefix or a general glob: MatchesRest decides
  };
  struct ProbeRange {
    uint32_t begin = 0, count = 0;
  };
  // For a key whose first 8 bytes matched the probe's: the rest of the prefix, then the glob.
  bool MatchesRest(uint16_t family, std::string_view key) const;
  // Keys of under 8 bytes: the prefix bytewise, then the glob.
  int ClassifyShortKey(std::string_view key, ProbeRange range) const;

  std::vector<Family> families_;
  std::vector<std::string> prefixes_;  // [family]: the glob's text before its first special character
  std::vector<bool> prefix_only_;      // [family]: the glob is that prefix and one '*'
  std::vector<Probe> probes_;
  // [first byte of the key] -> its probes in probes_; [256]: the empty key.
  std::array<ProbeRange, 257> by_first_byte_;
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
