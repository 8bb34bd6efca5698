// Eviction policies: which key goes when memory is over maxmemory, and what a lookup records on a
// key so that the choice can be made. Keyspace::Evict runs them (storage/eviction.cc has the
// essay on how, and on why allkeys-tinylfu is strata's own policy).
#pragma once

#include <cstdint>

namespace strata::storage {

class Entry;

// Redis's eight policies, in Redis's order (CONFIG SET lists them so), then strata's own.
enum class EvictionPolicy : uint8_t {
  kVolatileLru, kVolatileLfu, kVolatileRandom, kVolatileTtl, kAllKeysLru, kAllKeysLfu, kAllKeysRandom,
  kNoEviction, kAllKeysTinyLfu,
};

// What every lookup writes into an Entry's 32-bit access field:
//   kRecency   the time of the access, in milliseconds (mod 2^32, about 49.7 days);
//   kLfu       Redis's LFU word: the minute of the last decrement (16 bits) and an 8-bit
//              logarithmic counter;
//   kSketch    the shard's FrequencySketch counts the access; the field keeps the sketch's
//              estimate then, the sketch's epoch then, and the time in 128 ms steps (see
//              SketchField), so that eviction reads a key's frequency without hashing it.
// Switching policies at run time reinterprets the field, as Redis does: LRU and LFU data take
// a while to adjust.
enum class AccessTracking : uint8_t { kRecency, kLfu, kSketch };

AccessTracking TrackingFor(EvictionPolicy policy);
// volatile-*: only keys with a TTL may be evicted.
bool EvictsOnlyVolatile(EvictionPolicy policy);

// Redis's LFU counter (evict.c), kept in the low 24 bits of an entry's access field.
struct LfuParams {
  int log_factor = 10;     // lfu-log-factor: higher, slower growth of the counter
  int decay_minutes = 1;   // lfu-decay-time: the counter loses one per this many idle minutes
};
inline constexpr uint32_t kLfuInitialCounter = 5;  // a new key is not the first to go
// The access field of a key created now.
uint32_t LfuInitialField(int64_t now_ms);
// The counter after the decay its idle minutes call for.
uint32_t LfuDecayedCounter(uint32_t field, int64_t now_ms, const LfuParams& params);
// The field after one access: decayed, then incremented with probability 1/((c-5)*factor+1).
// `random` is a uniformly random 64-bit value.
uint32_t LfuTouchedField(uint32_t field, int64_t now_ms, const LfuParams& params, uint64_t random);

// allkeys-tinylfu's access field: bits 28-31 the key's estimated frequency at its last access,
// bits 20-27 the sketch's epoch then, bits 0-19 the access time in 128 ms steps (a key idle
// for more than about 18.6 hours reads as idle for that time modulo 37.3 hours).
inline constexpr int64_t kSketchClockStepMs = 128;
inline uint32_t SketchField(int frequency, uint32_t epoch, int64_t now_ms) {
  return (static_cast<uint32_t>(frequency) << 28) | ((epoch & 0xFF) << 20) |
         (static_cast<uint32_t>(now_ms / kSketchClockStepMs) & 0xFFFFF);
}
// The frequency in the field, halved once for each halving of the sketch since it was taken.
inline int SketchFieldFrequency(uint32_t field, uint32_t current_epoch) {
  const uint32_t halvings = (current_epoch - (field >> 20)) & 0xFF;
  return halvings >= 4 ? 0 : static_cast<int>(field >> 28) >> halvings;
}
inline uint32_t SketchFieldIdleMs(uint32_t field, int64_t now_ms) {
  const uint32_t steps = (static_cast<uint32_t>(now_ms / kSketchClockStepMs) - field) & 0xFFFFF;
  // The upper half of the range is a stamp a moment ahead of this thread's clock: idle 0.
  return steps >= 0x80000 ? 0 : steps * static_cast<uint32_t>(kSketchClockStepMs);
}

// A key's access time in the field's millisecond clock.
inline uint32_t RecencyField(int64_t now_ms) { return static_cast<uint32_t>(now_ms); }
// Milliseconds since the access recorded in a kRecency field (exact up to ~24.8 days). Another
// thread may have stamped the key a moment after this thread read its clock: a field "in the
// future" is idle 0, not 49 days.
inline uint32_t IdleMs(uint32_t field, int64_t now_ms) {
  const auto idle = static_cast<int32_t>(RecencyField(now_ms) - field);
  return idle < 0 ? 0 : static_cast<uint32_t>(idle);
}

// Told about every victim at the moment of its eviction, under its shard's lock, before it is
// freed: the victim's type, value and expiry are all still there (the spill tier keeps them;
// notifications name the key). Must not lock shards or run commands.
class EvictionListener {
 public:
  virtual ~EvictionListener() = default;
  virtual void OnEvict(int db, const Entry& victim) = 0;
};

struct EvictionOutcome {
  uint64_t keys = 0;
  // The policy found nothing it may evict anywhere (noeviction, or volatile-* without keys
  // with a TTL): the caller is out of memory.
  bool nothing_to_evict = false;
};

}  // namespace strata::storage
