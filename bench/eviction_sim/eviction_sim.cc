// eviction-sim: a trace-driven simulator of cache eviction policies -- the ones Redis 7.0 has
// (approximated LRU with its 16-entry eviction pool, LFU with the logarithmic counter) and the
// ones strata might adopt (S3-FIFO, W-TinyLFU, and a sharded "sampled TinyLFU"). It exists to
// choose strata's own maxmemory policy by measurement: it replays synthetic cache-aside traces
// against each policy and prints a table of hit ratios. It is a benchmark program, not a test:
// it asserts nothing and its numbers are for reading.
//
// Run:
//   g++ -std=c++20 -O2 -o /tmp/eviction-sim bench/eviction_sim/eviction_sim.cc   # or the
//   /tmp/eviction-sim          # bench target `eviction-sim`; the defaults: ~3 min on one core
//   /tmp/eviction-sim --keys=100000 --capacity=10000 --requests=2000000    # a quick look
//   /tmp/eviction-sim --workloads=1 --policies=tinylfu                      # a subset
//   /tmp/eviction-sim --help
//
// The model
// ---------
// A request is a key id. Cache-aside: every request is a GET; a miss is followed by the
// application's SET, so the policy inserts the key (or, for a policy with an admission test,
// may decline it). Every value has the same size, so capacity is counted in keys. The hit
// ratio is measured over the second half of the trace (the first half warms the cache).
//
// Redis's clocks tick in wall time, so the simulator needs a request rate: --rps, 100,000
// requests per simulated second by default. The LRU clock with 1 s resolution then ticks
// every 100,000 requests, a millisecond clock every 100 requests, and Redis's LFU decay
// (lfu-decay-time 1 minute) applies once per 6,000,000 requests.
//
// Not modelled: the memory each policy's metadata costs (capacity is in keys, so W-TinyLFU's
// list links, S3-FIFO's queues and ghost, and the sketches are free here; the table prints
// sketch bytes per key so that cost can be weighed); Redis's dictGetSomeKeys, which walks
// adjacent hash buckets, is modelled as a uniform sample; Redis's cached clocks lag by up to
// one serverCron tick; Caffeine's hill climber, which resizes the window, is left out (the
// window is fixed at 1%); values of different sizes; TTLs.
//
// Workloads (all seeded, so every run of a configuration replays the same trace):
//   1 zipf      Zipf(0.99) over --keys ids (rank r is key r).
//   2 zipf+scan the same Zipf, but each request is, with probability --scan-fraction (10%),
//               the next id of a sequential scan beyond the Zipf range: a one-time key.
//   3 shifting  the same Zipf, but the ranking drifts: every --shift-every requests the
//               ranking moves --shift-by ids, so keys lose popularity gradually with age and
//               never-seen keys become the most popular ones at once (a shifting hot set).
//
// Policies: see the essay above each class. The letter in the table's first column is the
// family from the design discussion: a exact LRU; b Redis approximated LRU; c Redis LFU;
// d S3-FIFO; e W-TinyLFU; f sampled TinyLFU (strata's candidate); g Redis-style sampling per
// shard (256 shards, as strata's keyspace is sharded).

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr uint32_t kNoKey = UINT32_MAX;
constexpr int32_t kNotResident = -1;

// ---------------------------------------------------------------------------------------------
// Randomness and hashing. Everything is deterministic: each trace and each policy owns a
// generator seeded from --seed.

// splitmix64's finalizer: a bijective 64-bit mix, used both as the generator's output function
// and as the key hash (key ids are dense integers, so they need a real mix before sharding).
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-32).
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>(((Next() >> 32) * static_cast<uint64_t>(n)) >> 32);
  }

 private:
  uint64_t state_;
};

// Which of `shards` shards holds a key; the top 32 bits of the hash, scaled.
uint32_t ShardOf(uint64_t hash, uint32_t shards) {
  return static_cast<uint32_t>(((hash >> 32) * shards) >> 32);
}

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
  uint32_t keys = 1'000'000;
  uint32_t capacity = 100'000;
  uint64_t requests = 20'000'000;
  double zipf_theta = 0.99;
  double scan_fraction = 0.10;
  uint64_t requests_per_second = 100'000;
  uint64_t shift_every = 10'000;
  uint32_t shift_by = 100;
  uint64_t seed = 42;
  std::string workloads = "1,2,3";
  std::string policies;  // substring filter on the policy name; empty = all
};

void PrintUsage() {
  std::printf(
      "usage: eviction-sim [--flag=value ...]\n"
      "  --keys=N            Zipf key-space size (default 1000000)\n"
      "  --capacity=N        cache capacity in keys (default 100000)\n"
      "  --requests=N        trace length; hit ratio is over the second half (default 20000000)\n"
      "  --zipf=THETA        Zipf exponent (default 0.99)\n"
      "  --scan-fraction=F   workload 2: share of requests that are one-time scan keys (0.1)\n"
      "  --rps=N             simulated requests per second, drives Redis's clocks (100000)\n"
      "  --shift-every=N     workload 3: requests between ranking shifts (10000)\n"
      "  --shift-by=N        workload 3: ids the ranking moves per shift (100)\n"
      "  --seed=N            trace and policy seed (42)\n"
      "  --workloads=LIST    comma-separated subset of 1,2,3 (default 1,2,3)\n"
      "  --policies=SUBSTR   run only policies whose name contains SUBSTR\n");
}

bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

bool ParseDouble(std::string_view text, double* out) {
  const std::string copy(text);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

// Returns false (after printing why) when the command line is not usable.
bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintUsage();
      std::exit(0);
    }
    const size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos) {
      std::fprintf(stderr, "eviction-sim: expected --flag=value, got %s\n", argv[i]);
      return false;
    }
    const std::string_view name = arg.substr(2, eq - 2);
    const std::string_view value = arg.substr(eq + 1);
    uint64_t n = 0;
    bool ok = true;
    if (name == "keys") {
      ok = ParseUint(value, &n) && n >= 2 && n <= (1u << 30);
      options->keys = static_cast<uint32_t>(n);
    } else if (name == "capacity") {
      ok = ParseUint(value, &n) && n >= 1 && n <= (1u << 30);
      options->capacity = static_cast<uint32_t>(n);
    } else if (name == "requests") {
      ok = ParseUint(value, &n) && n >= 2 && n <= (uint64_t{1} << 31);
      options->requests = n;
    } else if (name == "zipf") {
      ok = ParseDouble(value, &options->zipf_theta) && options->zipf_theta > 0;
    } else if (name == "scan-fraction") {
      ok = ParseDouble(value, &options->scan_fraction) && options->scan_fraction >= 0 &&
           options->scan_fraction < 1;
    } else if (name == "rps") {
      ok = ParseUint(value, &n) && n >= 1000;
      options->requests_per_second = n;
    } else if (name == "shift-every") {
      ok = ParseUint(value, &n) && n >= 1;
      options->shift_every = n;
    } else if (name == "shift-by") {
      ok = ParseUint(value, &n) && n <= (1u << 30);
      options->shift_by = static_cast<uint32_t>(n);
    } else if (name == "seed") {
      ok = ParseUint(value, &options->seed);
    } else if (name == "workloads") {
      options->workloads = std::string(value);
    } else if (name == "policies") {
      options->policies = std::string(value);
    } else {
      std::fprintf(stderr, "eviction-sim: unknown flag --%.*s (see --help)\n",
                   static_cast<int>(name.size()), name.data());
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "eviction-sim: bad value for --%.*s: %.*s\n",
                   static_cast<int>(name.size()), name.data(), static_cast<int>(value.size()),
                   value.data());
      return false;
    }
  }
  if (options->capacity >= options->keys) {
    std::fprintf(stderr, "eviction-sim: --capacity must be below --keys\n");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Workloads.

struct Trace {
  std::string name;
  std::vector<uint32_t> requests;
  uint32_t key_space = 0;  // every id in `requests` is below this
};

// Zipf(theta) ranks 0..n-1 by inverse transform over the exact cumulative distribution. A guide
// table (Chen and Asau) narrows each binary search to the ranks whose cumulative probability
// falls in the draw's 1/kGuideSize slice: a few steps even in the long, flat tail.
class ZipfSampler {
 public:
  ZipfSampler(uint32_t n, double theta) : cdf_(n), guide_(kGuideSize + 1) {
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i) + 1.0, theta);
      cdf_[i] = sum;
    }
    for (double& c : cdf_) c /= sum;
    cdf_.back() = 1.0;
    uint32_t rank = 0;
    for (uint32_t g = 0; g <= kGuideSize; ++g) {
      const double slice_start = static_cast<double>(g) / kGuideSize;
      while (rank + 1 < n && cdf_[rank] <= slice_start) ++rank;
      guide_[g] = rank;
    }
  }
  // The probability mass of ranks 0..count-1.
  double HeadMass(uint32_t count) const { return count == 0 ? 0 : cdf_[count - 1]; }
  uint32_t Next(Rng& rng) const {
    const double u = rng.Uniform();
    const auto slice = static_cast<uint32_t>(u * kGuideSize);
    const auto first = cdf_.begin() + guide_[slice];
    const auto last = cdf_.begin() + guide_[slice + 1] + 1;
    const auto it = std::upper_bound(first, last, u);
    return static_cast<uint32_t>(std::min<size_t>(it - cdf_.begin(), cdf_.size() - 1));
  }

 private:
  static constexpr uint32_t kGuideSize = 1 << 16;
  std::vector<double> cdf_;
  std::vector<uint32_t> guide_;  // guide_[g]: the first rank whose cdf exceeds g / kGuideSize
};

Trace MakeZipfTrace(const Options& options, const ZipfSampler& zipf, double scan_fraction) {
  Trace trace;
  trace.name = scan_fraction > 0 ? "zipf+scan" : "zipf";
  trace.requests.resize(options.requests);
  Rng rng(options.seed * 1000003 + (scan_fraction > 0 ? 2 : 1));
  uint32_t next_scan_key = options.keys;
  for (uint32_t& key : trace.requests) {
    if (scan_fraction > 0 && rng.Uniform() < scan_fraction) {
      key = next_scan_key++;
    } else {
      key = zipf.Next(rng);
    }
  }
  trace.key_space = next_scan_key;
  return trace;
}

// Key = (rank - offset) mod keys, with offset growing by shift_by every shift_every requests:
// a key's rank grows (it cools) steadily, and the key that was coldest becomes rank 0.
Trace MakeShiftingTrace(const Options& options, const ZipfSampler& zipf) {
  Trace trace;
  trace.name = "shifting";
  trace.requests.resize(options.requests);
  trace.key_space = options.keys;
  Rng rng(options.seed * 1000003 + 3);
  for (uint64_t i = 0; i < options.requests; ++i) {
    const uint64_t offset = (i / options.shift_every) * options.shift_by % options.keys;
    const uint64_t rank = zipf.Next(rng);
    trace.requests[i] = static_cast<uint32_t>((rank + options.keys - offset) % options.keys);
  }
  return trace;
}

// ---------------------------------------------------------------------------------------------
// The policy interface.

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  // Serves a GET of `key` at request index `now` (the simulator's clock); on a miss the policy
  // inserts the key (the application's SET) and evicts what it must. Returns whether it hit.
  virtual bool Access(uint32_t key, uint64_t now) = 0;
};

// A set of doubly linked lists threaded through per-key arrays (no allocation per key).
// List l's sentinel is node key_space + l; a key is on at most one list. Front = oldest.
class KeyLists {
 public:
  static constexpr uint8_t kNoList = 0xff;

  KeyLists(uint32_t key_space, int lists)
      : key_space_(key_space),
        prev_(key_space + lists),
        next_(key_space + lists),
        list_of_(key_space, kNoList),
        sizes_(lists, 0) {
    for (int l = 0; l < lists; ++l) {
      const uint32_t s = key_space + l;
      prev_[s] = next_[s] = s;
    }
  }
  uint8_t ListOf(uint32_t key) const { return list_of_[key]; }
  size_t Size(int list) const { return sizes_[list]; }
  uint32_t Front(int list) const {
    const uint32_t first = next_[key_space_ + list];
    return first == key_space_ + static_cast<uint32_t>(list) ? kNoKey : first;
  }
  void PushBack(int list, uint32_t key) {
    const uint32_t s = key_space_ + list;
    const uint32_t last = prev_[s];
    prev_[key] = last;
    next_[key] = s;
    next_[last] = key;
    prev_[s] = key;
    list_of_[key] = static_cast<uint8_t>(list);
    ++sizes_[list];
  }
  void Remove(uint32_t key) {
    next_[prev_[key]] = next_[key];
    prev_[next_[key]] = prev_[key];
    --sizes_[list_of_[key]];
    list_of_[key] = kNoList;
  }
  void MoveToBack(int list, uint32_t key) {
    Remove(key);
    PushBack(list, key);
  }

 private:
  uint32_t key_space_;
  std::vector<uint32_t> prev_;
  std::vector<uint32_t> next_;
  std::vector<uint8_t> list_of_;
  std::vector<size_t> sizes_;
};

// ---------------------------------------------------------------------------------------------
// (a) Exact LRU: one list, hits move to the back, the front is evicted.

class ExactLru final : public EvictionPolicy {
 public:
  ExactLru(uint32_t key_space, uint32_t capacity) : lists_(key_space, 1), capacity_(capacity) {}

  bool Access(uint32_t key, uint64_t now) override {
    if (lists_.ListOf(key) != KeyLists::kNoList) {
      lists_.MoveToBack(0, key);
      return true;
    }
    if (lists_.Size(0) >= capacity_) lists_.Remove(lists_.Front(0));
    lists_.PushBack(0, key);
    return false;
  }

 private:
  KeyLists lists_;
  uint32_t capacity_;
};

// ---------------------------------------------------------------------------------------------
// (b, c, g) Redis 7.0's sampled eviction, after evict.c.
//
// Each key has Redis's 24-bit `lru` field. For LRU it holds LRU_CLOCK() at the last access: a
// clock in units of LRU_CLOCK_RESOLUTION (1000 ms in Redis; 1 ms is strata's clock and is
// offered as a variant), and the candidate's score ("idle") is (now - lru) in milliseconds.
// For LFU it holds (minutes << 8) | counter: an 8-bit logarithmic counter that a hit raises
// with probability 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1), new keys starting at
// LFU_INIT_VAL = 5, and that loses one per lfu-decay-time minutes elapsed, applied lazily when
// the key is read; the score is 255 - decayed counter.
//
// Eviction samples maxmemory-samples resident keys (dictGetSomeKeys; modelled as a uniform
// sample). With the pool (Redis >= 3.0) each sample is offered to a 16-entry array kept sorted
// by ascending score (evictionPoolPopulate, reproduced line for line below); the entry with
// the highest score is popped and evicted if the key still exists, else the next one, and if
// none exists the pool is repopulated. Pool entries keep the score they had when sampled: a
// key touched since it entered the pool is still evicted on its old score (Redis does this
// too; it only re-checks that the key exists). Without the pool (Redis 2.x) the best of the
// samples is evicted. With shards > 1 the keyspace is split by key hash and each shard, of
// capacity/shards keys, samples and evicts only among its own keys (strata's layout).
//
// Worked example, LRU, 1 s clock, 100 k req/s: a key last read at request 1,234,567 has
// lru = 12; at request 1,450,000 the clock is 14, so its idle time is 2000 ms -- and so is the
// idle time of every key last read between requests 1,200,000 and 1,299,999. At this request
// rate the 1 s clock cannot tell apart most of the cache, which is the effect to measure.

enum class RedisScore { kLru, kLfu };

struct RedisConfig {
  RedisScore score = RedisScore::kLru;
  uint32_t samples = 5;              // maxmemory-samples
  uint64_t clock_resolution_ms = 1000;  // LRU_CLOCK_RESOLUTION
  bool pool = true;                  // the 16-entry eviction pool
  uint32_t shards = 1;
  uint64_t requests_per_second = 100'000;
  uint32_t lfu_log_factor = 10;      // lfu-log-factor
  uint32_t lfu_decay_minutes = 1;    // lfu-decay-time
};

class RedisSampled final : public EvictionPolicy {
 public:
  static constexpr int kPoolSize = 16;                // EVPOOL_SIZE
  static constexpr uint32_t kLruClockMax = (1u << 24) - 1;  // LRU_CLOCK_MAX
  static constexpr uint32_t kLfuInitVal = 5;          // LFU_INIT_VAL

  RedisSampled(uint32_t key_space, uint32_t capacity, const RedisConfig& config, uint64_t seed)
      : config_(config), position_(key_space, kNotResident), shards_(config.shards), rng_(seed) {
    for (uint32_t s = 0; s < config.shards; ++s) {
      shards_[s].capacity = capacity / config.shards + (s < capacity % config.shards ? 1 : 0);
      shards_[s].residents.reserve(shards_[s].capacity + 1);
    }
  }

  bool Access(uint32_t key, uint64_t now) override {
    Shard& shard = shards_[config_.shards == 1 ? 0 : ShardOf(Mix64(key), config_.shards)];
    if (position_[key] != kNotResident) {
      Touch(shard.residents[position_[key]].lru, now);
      return true;
    }
    // The SET that follows the miss: createObject stamps the new key, then (in Redis, before
    // the next command) eviction brings memory back under the limit.
    const uint32_t lru = config_.score == RedisScore::kLru ? LruClock(now)
                                                            : (LfuMinutes(now) << 8) | kLfuInitVal;
    position_[key] = static_cast<int32_t>(shard.residents.size());
    shard.residents.push_back({key, lru});
    if (shard.residents.size() > shard.capacity) Evict(shard, now);
    return false;
  }

 private:
  struct PoolEntry {
    uint64_t idle = 0;
    uint32_t key = kNoKey;  // kNoKey = empty slot (Redis: key == NULL)
  };
  // A resident key and its robj.lru field (24 bits used), kept together so that sampling
  // reads one small per-shard array rather than a per-key array spread over the key space.
  struct Resident {
    uint32_t key;
    uint32_t lru;
  };
  struct Shard {
    std::vector<Resident> residents;
    uint32_t capacity = 0;
    std::array<PoolEntry, kPoolSize> pool{};
  };

  uint32_t LruClock(uint64_t now) const {
    const uint64_t ms = now * 1000 / config_.requests_per_second;
    return static_cast<uint32_t>((ms / config_.clock_resolution_ms) & kLruClockMax);
  }
  uint32_t LfuMinutes(uint64_t now) const {
    return static_cast<uint32_t>((now / config_.requests_per_second / 60) & 65535);
  }
  // LFUDecrAndReturn.
  uint32_t LfuDecayed(uint32_t lru, uint64_t now) const {
    const uint32_t ldt = lru >> 8;
    const uint32_t counter = lru & 255;
    const uint32_t minutes = LfuMinutes(now);
    const uint32_t elapsed = minutes >= ldt ? minutes - ldt : 65535 - ldt + minutes;
    const uint32_t periods = config_.lfu_decay_minutes ? elapsed / config_.lfu_decay_minutes : 0;
    return periods > counter ? 0 : counter - periods;
  }
  // lookupKey's update: LRU stamps the clock, LFU decays then maybe increments (LFULogIncr).
  void Touch(uint32_t& lru, uint64_t now) {
    if (config_.score == RedisScore::kLru) {
      lru = LruClock(now);
      return;
    }
    uint32_t counter = LfuDecayed(lru, now);
    if (counter < 255) {
      const double base = counter > kLfuInitVal ? counter - kLfuInitVal : 0;
      const double p = 1.0 / (base * config_.lfu_log_factor + 1);
      if (rng_.Uniform() < p) ++counter;
    }
    lru = (LfuMinutes(now) << 8) | counter;
  }
  // The pool's score: higher = better candidate.
  uint64_t Idle(uint32_t lru, uint64_t now) const {
    if (config_.score == RedisScore::kLfu) return 255 - LfuDecayed(lru, now);
    const uint32_t clock = LruClock(now);
    const uint64_t ticks = clock >= lru ? clock - lru : clock + (kLruClockMax - lru);
    return ticks * config_.clock_resolution_ms;
  }

  void Evict(Shard& shard, uint64_t now) {
    if (!config_.pool) {
      uint32_t best = kNoKey;
      uint64_t best_idle = 0;
      for (uint32_t j = 0; j < config_.samples; ++j) {
        const Resident& sample = shard.residents[rng_.Below(shard.residents.size())];
        const uint64_t idle = Idle(sample.lru, now);
        if (best == kNoKey || idle > best_idle) {
          best = sample.key;
          best_idle = idle;
        }
      }
      Remove(shard, best);
      return;
    }
    while (true) {
      PoolPopulate(shard, now);
      // Pop from the best end; a popped entry whose key is gone is a ghost and is skipped.
      for (int k = kPoolSize - 1; k >= 0; --k) {
        const uint32_t key = shard.pool[k].key;
        if (key == kNoKey) continue;
        shard.pool[k] = PoolEntry{};
        if (position_[key] != kNotResident) {
          Remove(shard, key);
          return;
        }
      }
    }
  }

  // evictionPoolPopulate, with Redis's insertion rule verbatim.
  void PoolPopulate(Shard& shard, uint64_t now) {
    auto& pool = shard.pool;
    for (uint32_t j = 0; j < config_.samples; ++j) {
      const Resident& sample = shard.residents[rng_.Below(shard.residents.size())];
      const uint32_t key = sample.key;
      const uint64_t idle = Idle(sample.lru, now);
      int k = 0;
      while (k < kPoolSize && pool[k].key != kNoKey && pool[k].idle < idle) ++k;
      if (k == 0 && pool[kPoolSize - 1].key != kNoKey) {
        continue;  // not better than the worst entry, and no empty slot
      } else if (k < kPoolSize && pool[k].key == kNoKey) {
        // empty slot: insert in place
      } else if (pool[kPoolSize - 1].key == kNoKey) {
        // free space on the right: shift k.. right
        std::memmove(&pool[k + 1], &pool[k], sizeof(PoolEntry) * (kPoolSize - k - 1));
      } else {
        // full: insert at k-1, dropping the element with the smallest idle time
        --k;
        std::memmove(&pool[0], &pool[1], sizeof(PoolEntry) * k);
      }
      pool[k] = PoolEntry{idle, key};
    }
  }

  void Remove(Shard& shard, uint32_t key) {
    const int32_t at = position_[key];
    shard.residents[at] = shard.residents.back();
    position_[shard.residents[at].key] = at;
    shard.residents.pop_back();
    position_[key] = kNotResident;
  }

  RedisConfig config_;
  std::vector<int32_t> position_;  // index in its shard's `residents`, or kNotResident
  std::vector<Shard> shards_;
  Rng rng_;
};

// ---------------------------------------------------------------------------------------------
// (d) S3-FIFO (Yang et al., SOSP 2023), after libCacheSim's S3FIFOv0.c, "the original S3FIFO
// implementation used in the paper".
//
// Three FIFOs: small S (10% of capacity), main M (the rest), and ghost G, which remembers as
// many evicted keys (no values) as M holds. Each resident key has a 2-bit frequency, raised
// on a hit. A missed key goes to M if G remembers it, else to S, with frequency 0. To make
// room: if M is over its share (or S is empty), M's oldest key is evicted if its frequency is
// 0, otherwise reinserted at M's head with frequency - 1 (a 2-bit CLOCK), repeating until one
// goes; otherwise S's oldest key moves to M (frequency reset) if its frequency reached
// `move_threshold`, or is evicted into G, repeating until one is evicted. The paper's
// Algorithm 1 says "freq > 1" (threshold 2, libCacheSim's default); its prose says "accessed
// at least once" (threshold 1); both are run. The paper's Algorithm 1 also words the choice of
// queue differently: evict from S while S holds 10% of capacity or more, else from M, and a
// move into a full M first evicts from M. That is the `paper_rule` variant.
//
// Worked example, capacity 10: S holds 1, M 9. Key 7 misses (not in G): into S. If it is read
// twice before it reaches S's tail, it moves to M; if it is read once, threshold 2 sends it to
// G, and a miss on it while G still remembers it puts it straight into M.

class S3Fifo final : public EvictionPolicy {
 public:
  S3Fifo(uint32_t key_space, uint32_t capacity, uint32_t move_threshold, bool paper_rule)
      : paper_rule_(paper_rule),
        capacity_(capacity),
        small_target_(std::max<uint32_t>(1, capacity / 10)),
        main_target_(capacity - small_target_),
        ghost_capacity_(main_target_),
        move_threshold_(move_threshold),
        where_(key_space, kNowhere),
        freq_(key_space, 0),
        ghost_stamp_(key_space, 0) {}

  bool Access(uint32_t key, uint64_t now) override {
    if (where_[key] != kNowhere) {
      if (freq_[key] < kMaxFreq) ++freq_[key];
      return true;
    }
    const bool remembered = ghost_stamp_[key] != 0;
    if (remembered) {  // a ghost hit consumes the ghost entry
      ghost_stamp_[key] = 0;
      --ghost_live_;
    }
    while (small_.size() + main_.size() >= capacity_) Evict();
    freq_[key] = 0;
    if (remembered) {
      main_.push_back(key);
      where_[key] = kMain;
    } else {
      small_.push_back(key);
      where_[key] = kSmall;
    }
    return false;
  }

 private:
  static constexpr uint8_t kNowhere = 0;
  static constexpr uint8_t kSmall = 1;
  static constexpr uint8_t kMain = 2;
  static constexpr uint8_t kMaxFreq = 3;  // 2 bits

  void Evict() {
    const bool from_main = paper_rule_ ? small_.size() < small_target_ || small_.empty()
                                       : main_.size() > main_target_ || small_.empty();
    if (from_main) {
      EvictMain();
    } else {
      EvictSmall();
    }
  }
  void EvictSmall() {
    while (!small_.empty()) {
      const uint32_t key = small_.front();
      small_.pop_front();
      if (freq_[key] >= move_threshold_) {
        if (paper_rule_ && main_.size() >= main_target_) EvictMain();
        freq_[key] = 0;
        main_.push_back(key);
        where_[key] = kMain;
      } else {
        where_[key] = kNowhere;
        RememberInGhost(key);
        return;
      }
    }
  }
  void EvictMain() {
    while (!main_.empty()) {
      const uint32_t key = main_.front();
      main_.pop_front();
      if (freq_[key] >= 1) {
        --freq_[key];
        main_.push_back(key);
      } else {
        where_[key] = kNowhere;
        return;
      }
    }
  }
  // G is a FIFO of (key, stamp); an entry is live while the key's stamp still matches, so a
  // ghost hit deletes in O(1) and the dead entry is dropped when it reaches the front.
  void RememberInGhost(uint32_t key) {
    const uint32_t stamp = ++ghost_clock_;
    ghost_.emplace_back(key, stamp);
    ghost_stamp_[key] = stamp;
    ++ghost_live_;
    while (ghost_live_ > ghost_capacity_) {
      const auto [old, old_stamp] = ghost_.front();
      ghost_.pop_front();
      if (ghost_stamp_[old] == old_stamp) {
        ghost_stamp_[old] = 0;
        --ghost_live_;
      }
    }
  }

  bool paper_rule_;
  uint32_t capacity_;
  uint32_t small_target_;
  uint32_t main_target_;
  uint32_t ghost_capacity_;
  uint32_t move_threshold_;
  std::vector<uint8_t> where_;
  std::vector<uint8_t> freq_;
  std::vector<uint32_t> ghost_stamp_;  // 0 = not in G
  std::deque<uint32_t> small_;
  std::deque<uint32_t> main_;
  std::deque<std::pair<uint32_t, uint32_t>> ghost_;
  uint32_t ghost_live_ = 0;
  uint32_t ghost_clock_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Caffeine's frequency sketch (FrequencySketch.java, 3.x): a count-min sketch of 4-bit
// counters, depth 4, laid out so that all four counters of a key live in one 64-byte block
// (8 words of 16 counters; row i uses words 2i and 2i+1 of the block). The block is chosen by
// one half of the key's hash, the counter in each row by a byte of the other half. An
// increment raises each of the four counters that is below 15; when `sample_size` increments
// have raised something, every counter is halved (the "reset" that ages frequencies) and the
// increment count is set to (count - odd counters / 4) / 2, as Caffeine does. The estimate is
// the minimum of the four counters.
//
// Worked example: a key whose four counters read 3, 5, 3, 9 is estimated at 3; after a reset
// they read 1, 2, 1, 4 and the estimate is 1.

class FrequencySketch {
 public:
  FrequencySketch(size_t blocks, uint64_t sample_size)
      : table_(std::max<size_t>(blocks, 1) * kWordsPerBlock, 0),
        blocks_(std::max<size_t>(blocks, 1)),
        sample_size_(sample_size) {}

  size_t Bytes() const { return table_.size() * sizeof(uint64_t); }

  void Increment(uint64_t hash) {
    const size_t block = BlockOf(hash);
    const uint32_t counter_hash = static_cast<uint32_t>(hash >> 32);
    bool added = false;
    for (int i = 0; i < kDepth; ++i) {
      const uint32_t h = counter_hash >> (i * 8);
      const int index = (h >> 1) & 15;
      uint64_t& word = table_[block + (h & 1) + 2 * i];
      const uint64_t mask = uint64_t{0xf} << (index * 4);
      if ((word & mask) != mask) {
        word += uint64_t{1} << (index * 4);
        added = true;
      }
    }
    if (added && ++size_ == sample_size_) Reset();
  }

  int Estimate(uint64_t hash) const {
    const size_t block = BlockOf(hash);
    const uint32_t counter_hash = static_cast<uint32_t>(hash >> 32);
    int estimate = 15;
    for (int i = 0; i < kDepth; ++i) {
      const uint32_t h = counter_hash >> (i * 8);
      const int index = (h >> 1) & 15;
      const uint64_t word = table_[block + (h & 1) + 2 * i];
      estimate = std::min(estimate, static_cast<int>((word >> (index * 4)) & 0xf));
    }
    return estimate;
  }

 private:
  static constexpr int kDepth = 4;
  static constexpr size_t kWordsPerBlock = 8;  // 64 bytes
  static constexpr uint64_t kOneMask = 0x1111111111111111ULL;
  static constexpr uint64_t kResetMask = 0x7777777777777777ULL;

  size_t BlockOf(uint64_t hash) const {
    return (static_cast<uint32_t>(hash) % blocks_) * kWordsPerBlock;
  }
  void Reset() {
    uint64_t odd = 0;
    for (uint64_t& word : table_) {
      odd += std::popcount(word & kOneMask);
      word = (word >> 1) & kResetMask;
    }
    size_ = (size_ - odd / 4) / 2;
  }

  std::vector<uint64_t> table_;
  size_t blocks_;
  uint64_t sample_size_;
  uint64_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// (e) W-TinyLFU as Caffeine does it, without the hill climber (the window is fixed at 1%).
//
// A new key enters the window, an LRU of 1% of capacity. The rest is the main space, a
// segmented LRU: probation (20%) and protected (80%). A probation hit promotes to protected;
// protected overflow demotes its LRU key to probation's MRU end. When the window overflows,
// its LRU key (the candidate) moves to probation's MRU end; if the cache is then over
// capacity, the candidate duels probation's LRU key (the victim): the candidate stays only if
// its sketch estimate is higher (Caffeine's admit(): on a tie or lower it is evicted, except
// that a candidate estimated at 6 or more wins 1 time in 128, Caffeine's defence against hash
// flooding). The sketch is Caffeine's: next_pow2(capacity) words (8 bytes per key or a bit
// more), halved after 10 x capacity increments; every request increments it (a hit through
// the read buffer, a miss through the SET's write).

class WTinyLfu final : public EvictionPolicy {
 public:
  WTinyLfu(uint32_t key_space, uint32_t capacity, uint64_t seed)
      : lists_(key_space, 3),
        capacity_(capacity),
        window_max_(std::max<uint32_t>(1, capacity / 100)),
        protected_max_(static_cast<uint32_t>((capacity - window_max_) * 0.8)),
        sketch_(std::bit_ceil(static_cast<uint64_t>(capacity)) / 8, 10 * uint64_t{capacity}),
        rng_(seed) {}

  double SketchBytesPerKey() const { return static_cast<double>(sketch_.Bytes()) / capacity_; }

  bool Access(uint32_t key, uint64_t now) override {
    const uint64_t hash = Mix64(key);
    sketch_.Increment(hash);
    switch (lists_.ListOf(key)) {
      case kWindow:
        lists_.MoveToBack(kWindow, key);
        return true;
      case kProtected:
        lists_.MoveToBack(kProtected, key);
        return true;
      case kProbation:
        lists_.MoveToBack(kProtected, key);
        if (lists_.Size(kProtected) > protected_max_) {
          lists_.MoveToBack(kProbation, lists_.Front(kProtected));
        }
        return true;
      default:
        break;
    }
    lists_.PushBack(kWindow, key);
    uint32_t candidate = kNoKey;
    if (lists_.Size(kWindow) > window_max_) {
      candidate = lists_.Front(kWindow);
      lists_.MoveToBack(kProbation, candidate);
    }
    if (Resident() > capacity_) EvictFromMain(candidate);
    return false;
  }

 private:
  static constexpr int kWindow = 0;
  static constexpr int kProbation = 1;
  static constexpr int kProtected = 2;
  static constexpr int kAdmitHashDosThreshold = 6;

  size_t Resident() const {
    return lists_.Size(kWindow) + lists_.Size(kProbation) + lists_.Size(kProtected);
  }
  void EvictFromMain(uint32_t candidate) {
    uint32_t victim = lists_.Front(kProbation);
    if (victim == candidate) victim = kNoKey;
    if (victim == kNoKey) victim = lists_.Front(kProtected);
    if (candidate == kNoKey || victim == kNoKey) {
      // Only one side exists (cold start): evict whatever is oldest.
      const uint32_t key = victim != kNoKey ? victim : lists_.Front(kWindow);
      lists_.Remove(key);
      return;
    }
    lists_.Remove(Admit(candidate, victim) ? victim : candidate);
  }
  bool Admit(uint32_t candidate, uint32_t victim) {
    const int victim_freq = sketch_.Estimate(Mix64(victim));
    const int candidate_freq = sketch_.Estimate(Mix64(candidate));
    if (candidate_freq > victim_freq) return true;
    if (candidate_freq >= kAdmitHashDosThreshold) return (rng_.Next() & 127) == 0;
    return false;
  }

  KeyLists lists_;
  uint32_t capacity_;
  uint32_t window_max_;
  uint32_t protected_max_;
  FrequencySketch sketch_;
  Rng rng_;
};

// ---------------------------------------------------------------------------------------------
// (f) Sampled TinyLFU, the design strata is considering: no per-key queue links, only a
// last-access stamp per key and a small sketch per shard.
//
// The keyspace is split into `shards` shards by key hash, each holding capacity/shards keys and
// owning a frequency sketch (the block layout above) of bytes_per_key x shard capacity bytes,
// halved after 10 x shard capacity increments. Every request increments the requested key in
// its shard's sketch. A miss inserts the key; if the shard is full, `samples` distinct
// resident keys are drawn uniformly and the one with the lowest estimate is evicted, ties
// going to the oldest last access. There is no window and, by default, no admission test.
// Guards, each a variant to measure:
//   kProtectNew     a key inserted among the shard's last protect_fraction x capacity
//                   insertions is passed over when sampled (unless every sample is new).
//   kAdmitNotLower  the new key is itself evicted instead if its estimate is below the
//                   sampled victim's (the brief's rule; a tie admits).
//   kAdmitHigher    ... if its estimate is not above the victim's (Caffeine's strict rule).
//
// Worked example, K = 5: a shard of 390 keys is full and key 77 misses. Five residents are
// drawn, estimated 0, 3, 1, 0, 7; the two at 0 are compared by last access and the older is
// evicted; key 77 is inserted (estimate 1 or more: this request counted).

enum class Guard { kNone, kProtectNew, kAdmitNotLower, kAdmitHigher };

struct SampledTinyLfuConfig {
  double sketch_bytes_per_key = 4;
  uint32_t samples = 5;
  uint32_t shards = 256;
  Guard guard = Guard::kNone;
  double protect_fraction = 0.01;
};

class SampledTinyLfu final : public EvictionPolicy {
 public:
  static constexpr uint32_t kMaxSamples = 64;

  SampledTinyLfu(uint32_t key_space, uint32_t capacity, const SampledTinyLfuConfig& config,
                 uint64_t seed)
      : config_(config), position_(key_space, kNotResident), rng_(seed) {
    shards_.reserve(config.shards);
    for (uint32_t s = 0; s < config.shards; ++s) {
      const uint32_t shard_capacity =
          capacity / config.shards + (s < capacity % config.shards ? 1 : 0);
      const double bytes = config.sketch_bytes_per_key * shard_capacity;
      const size_t blocks = std::max<size_t>(1, static_cast<size_t>(std::lround(bytes / 64)));
      shards_.emplace_back(shard_capacity, blocks);
      sketch_bytes_ += shards_.back().sketch.Bytes();
    }
    capacity_ = capacity;
  }

  double SketchBytesPerKey() const { return static_cast<double>(sketch_bytes_) / capacity_; }

  bool Access(uint32_t key, uint64_t now) override {
    const uint64_t hash = Mix64(key);
    Shard& shard = shards_[config_.shards == 1 ? 0 : ShardOf(hash, config_.shards)];
    // The sketch must not see the shard-selecting bits: re-mix for the sketch's own hash.
    const uint64_t sketch_hash = Mix64(hash ^ 0x5bd1e9955bd1e995ULL);
    shard.sketch.Increment(sketch_hash);
    if (position_[key] != kNotResident) {
      shard.residents[position_[key]].last_access = static_cast<uint32_t>(now);
      return true;
    }
    if (shard.residents.size() >= shard.capacity) {
      const uint32_t victim_at = PickVictim(shard);
      if (config_.guard == Guard::kAdmitNotLower || config_.guard == Guard::kAdmitHigher) {
        const int new_freq = shard.sketch.Estimate(sketch_hash);
        const int victim_freq = shard.sketch.Estimate(SketchHash(shard.residents[victim_at].key));
        const bool admit = config_.guard == Guard::kAdmitNotLower ? new_freq >= victim_freq
                                                                   : new_freq > victim_freq;
        if (!admit) return false;
      }
      Remove(shard, victim_at);
    }
    position_[key] = static_cast<int32_t>(shard.residents.size());
    ++shard.insertions;
    shard.residents.push_back({key, static_cast<uint32_t>(now), shard.insertions});
    return false;
  }

 private:
  // A resident key with its last-access stamp and insertion ordinal, kept in the shard's
  // array so that sampling reads one small array (strata would keep these in the entry).
  struct Resident {
    uint32_t key;
    uint32_t last_access;  // request index of the last GET
    uint64_t inserted;     // the shard's insertion count when this key went in
  };
  struct Shard {
    Shard(uint32_t capacity_keys, size_t sketch_blocks)
        : capacity(capacity_keys), sketch(sketch_blocks, 10 * uint64_t{capacity_keys}) {
      residents.reserve(capacity_keys + 1);
    }
    std::vector<Resident> residents;
    uint32_t capacity;
    FrequencySketch sketch;
    uint64_t insertions = 0;
  };

  static uint64_t SketchHash(uint32_t key) { return Mix64(Mix64(key) ^ 0x5bd1e9955bd1e995ULL); }

  // Returns the victim's index in shard.residents. The samples are gathered first and scored
  // after, so that their cache misses overlap (this is the simulator's hot loop).
  uint32_t PickVictim(Shard& shard) {
    const uint32_t n = static_cast<uint32_t>(shard.residents.size());
    const uint32_t k = std::min(config_.samples, n);
    std::array<uint32_t, kMaxSamples> picked;
    for (uint32_t j = 0; j < k; ++j) {  // distinct indices by rejection; k << n normally
      uint32_t index;
      do {
        index = rng_.Below(n);
      } while (std::find(picked.begin(), picked.begin() + j, index) != picked.begin() + j);
      picked[j] = index;
    }
    std::array<Resident, kMaxSamples> candidates;
    for (uint32_t j = 0; j < k; ++j) candidates[j] = shard.residents[picked[j]];
    std::array<int, kMaxSamples> freqs;
    for (uint32_t j = 0; j < k; ++j) {
      freqs[j] = shard.sketch.Estimate(SketchHash(candidates[j].key));
    }

    const uint64_t protect_window =
        config_.guard == Guard::kProtectNew
            ? static_cast<uint64_t>(std::ceil(config_.protect_fraction * shard.capacity))
            : 0;
    uint32_t best = kNoKey;
    for (int pass = 0; pass < 2 && best == kNoKey; ++pass) {
      for (uint32_t j = 0; j < k; ++j) {
        if (pass == 0 && shard.insertions - candidates[j].inserted < protect_window) continue;
        if (best == kNoKey || freqs[j] < freqs[best] ||
            (freqs[j] == freqs[best] &&
             candidates[j].last_access < candidates[best].last_access)) {
          best = j;
        }
      }
    }
    return picked[best];
  }

  void Remove(Shard& shard, uint32_t at) {
    const uint32_t key = shard.residents[at].key;
    shard.residents[at] = shard.residents.back();
    position_[shard.residents[at].key] = static_cast<int32_t>(at);
    shard.residents.pop_back();
    position_[key] = kNotResident;  // last: `key` may itself have been the back
  }

  SampledTinyLfuConfig config_;
  std::vector<int32_t> position_;  // index in its shard's `residents`, or kNotResident
  std::vector<Shard> shards_;
  size_t sketch_bytes_ = 0;
  uint32_t capacity_ = 0;
  Rng rng_;
};

// ---------------------------------------------------------------------------------------------
// The run.

struct PolicySpec {
  char family;        // a..g, as in the header
  std::string name;
  // Builds the policy for a trace; sets *sketch_bytes_per_key when the policy has a sketch.
  std::function<std::unique_ptr<EvictionPolicy>(const Trace&, double* sketch_bytes_per_key)>
      make;
};

std::vector<PolicySpec> AllPolicies(const Options& options) {
  std::vector<PolicySpec> specs;
  const uint32_t capacity = options.capacity;
  const uint64_t seed = options.seed;

  specs.push_back({'a', "lru-exact", [=](const Trace& t, double*) {
                     return std::make_unique<ExactLru>(t.key_space, capacity);
                   }});

  auto redis = [&](char family, std::string name, RedisConfig config) {
    config.requests_per_second = options.requests_per_second;
    specs.push_back({family, std::move(name), [=](const Trace& t, double*) {
                       return std::make_unique<RedisSampled>(t.key_space, capacity, config,
                                                             seed + 11);
                     }});
  };
  redis('b', "redis-lru pool s5 1s-clock (allkeys-lru)", {RedisScore::kLru, 5, 1000, true, 1});
  redis('b', "redis-lru pool s10 1s-clock", {RedisScore::kLru, 10, 1000, true, 1});
  redis('b', "redis-lru pool s5 ms-clock", {RedisScore::kLru, 5, 1, true, 1});
  redis('b', "redis-lru pool s10 ms-clock", {RedisScore::kLru, 10, 1, true, 1});
  redis('b', "redis-lru nopool s5 1s-clock", {RedisScore::kLru, 5, 1000, false, 1});
  redis('b', "redis-lru nopool s5 ms-clock", {RedisScore::kLru, 5, 1, false, 1});
  redis('c', "redis-lfu pool s5 (allkeys-lfu)", {RedisScore::kLfu, 5, 1000, true, 1});
  redis('c', "redis-lfu pool s10", {RedisScore::kLfu, 10, 1000, true, 1});
  redis('g', "shard256-lru nopool s5 ms-clock", {RedisScore::kLru, 5, 1, false, 256});
  redis('g', "shard256-lru pool/shard s5 ms-clock", {RedisScore::kLru, 5, 1, true, 256});
  redis('g', "shard256-lfu nopool s5", {RedisScore::kLfu, 5, 1000, false, 256});
  redis('g', "shard256-lfu pool/shard s5", {RedisScore::kLfu, 5, 1000, true, 256});

  for (const uint32_t threshold : {1u, 2u}) {
    specs.push_back({'d', "s3fifo move-if-freq>=" + std::to_string(threshold),
                     [=](const Trace& t, double*) {
                       return std::make_unique<S3Fifo>(t.key_space, capacity, threshold, false);
                     }});
  }
  specs.push_back({'d', "s3fifo move-if-freq>=2 paper-rule", [=](const Trace& t, double*) {
                     return std::make_unique<S3Fifo>(t.key_space, capacity, 2, true);
                   }});

  specs.push_back({'e', "w-tinylfu 1% window (caffeine)", [=](const Trace& t, double* bytes) {
                     auto policy = std::make_unique<WTinyLfu>(t.key_space, capacity, seed + 13);
                     *bytes = policy->SketchBytesPerKey();
                     return policy;
                   }});

  auto sampled = [&](std::string name, SampledTinyLfuConfig config) {
    specs.push_back({'f', std::move(name), [=](const Trace& t, double* bytes) {
                       auto policy = std::make_unique<SampledTinyLfu>(t.key_space, capacity,
                                                                      config, seed + 17);
                       *bytes = policy->SketchBytesPerKey();
                       return policy;
                     }});
  };
  for (const uint32_t k : {5u, 10u, 16u}) {
    for (const double b : {1.0, 2.0, 4.0, 8.0}) {
      sampled("stinylfu K" + std::to_string(k) + " B" + std::to_string(static_cast<int>(b)),
              {b, k, 256, Guard::kNone});
    }
  }
  sampled("stinylfu K5 B4 protect-new 1%", {4, 5, 256, Guard::kProtectNew, 0.01});
  sampled("stinylfu K5 B4 protect-new 10%", {4, 5, 256, Guard::kProtectNew, 0.10});
  sampled("stinylfu K5 B4 admit new>=victim", {4, 5, 256, Guard::kAdmitNotLower});
  sampled("stinylfu K5 B4 admit new>victim", {4, 5, 256, Guard::kAdmitHigher});
  sampled("stinylfu K16 B8 protect-new 10%", {8, 16, 256, Guard::kProtectNew, 0.10});
  sampled("stinylfu K16 B8 admit new>=victim", {8, 16, 256, Guard::kAdmitNotLower});
  sampled("stinylfu K16 B8 admit new>victim", {8, 16, 256, Guard::kAdmitHigher});
  sampled("stinylfu K5 B4 unsharded", {4, 5, 1, Guard::kNone});
  return specs;
}

struct Row {
  char family;
  std::string name;
  double sketch_bytes_per_key;  // < 0 = no sketch
  double hit_percent;
};

double Replay(EvictionPolicy& policy, const Trace& trace) {
  const uint64_t n = trace.requests.size();
  const uint64_t warm_from = n / 2;
  uint64_t hits = 0;
  for (uint64_t i = 0; i < warm_from; ++i) policy.Access(trace.requests[i], i);
  for (uint64_t i = warm_from; i < n; ++i) hits += policy.Access(trace.requests[i], i);
  return 100.0 * static_cast<double>(hits) / static_cast<double>(n - warm_from);
}

// `irm_optimum` is the hit ratio of pinning the capacity's worth of most popular keys, the best
// any online policy can do when requests are independent draws (workloads 1 and 2); a policy
// above it would be a bug. Negative = not applicable.
void PrintTable(const Trace& trace, const std::vector<Row>& rows, double irm_optimum) {
  double redis_best = -1;
  std::string redis_best_name;
  for (const Row& row : rows) {
    if ((row.family == 'b' || row.family == 'c') && row.hit_percent > redis_best) {
      redis_best = row.hit_percent;
      redis_best_name = row.name;
    }
  }
  std::printf("\n%-10s %-2s %-42s %8s %8s %10s\n", "workload", "", "policy", "sketch",
              "hit %", "vs redis");
  std::printf("%-10s %-2s %-42s %8s %8s %10s\n", "", "", "", "B/key", "", "best (pp)");
  for (const Row& row : rows) {
    char bytes[16] = "-";
    if (row.sketch_bytes_per_key >= 0) {
      std::snprintf(bytes, sizeof bytes, "%.2f", row.sketch_bytes_per_key);
    }
    char delta[16] = "";
    if (redis_best >= 0) std::snprintf(delta, sizeof delta, "%+.2f", row.hit_percent - redis_best);
    std::printf("%-10s %-2c %-42s %8s %8.2f %10s\n", trace.name.c_str(), row.family,
                row.name.c_str(), bytes, row.hit_percent, delta);
  }
  if (redis_best >= 0) {
    std::printf("%-10s    redis best (b/c): %s = %.2f%%\n", trace.name.c_str(),
                redis_best_name.c_str(), redis_best);
  }
  if (irm_optimum >= 0) {
    std::printf("%-10s    ceiling: the top %s keys pinned (IRM optimum) = %.2f%%\n",
                trace.name.c_str(), "capacity", irm_optimum);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) return 2;

  std::printf(
      "eviction-sim: keys=%u capacity=%u requests=%llu (hit ratio over the last %llu) "
      "zipf=%.2f scan-fraction=%.2f rps=%llu shift=%u ids/%llu requests seed=%llu\n",
      options.keys, options.capacity, static_cast<unsigned long long>(options.requests),
      static_cast<unsigned long long>(options.requests - options.requests / 2),
      options.zipf_theta, options.scan_fraction,
      static_cast<unsigned long long>(options.requests_per_second), options.shift_by,
      static_cast<unsigned long long>(options.shift_every),
      static_cast<unsigned long long>(options.seed));
  std::fflush(stdout);

  const ZipfSampler zipf(options.keys, options.zipf_theta);
  const std::vector<PolicySpec> specs = AllPolicies(options);
  const auto start = std::chrono::steady_clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  for (const char workload : {'1', '2', '3'}) {
    if (options.workloads.find(workload) == std::string::npos) continue;
    const Trace trace = workload == '1'   ? MakeZipfTrace(options, zipf, 0)
                        : workload == '2' ? MakeZipfTrace(options, zipf, options.scan_fraction)
                                          : MakeShiftingTrace(options, zipf);
    std::vector<Row> rows;
    for (const PolicySpec& spec : specs) {
      if (!options.policies.empty() && spec.name.find(options.policies) == std::string::npos) {
        continue;
      }
      double sketch_bytes = -1;
      const std::unique_ptr<EvictionPolicy> policy = spec.make(trace, &sketch_bytes);
      const double hit = Replay(*policy, trace);
      rows.push_back({spec.family, spec.name, sketch_bytes, hit});
      std::fprintf(stderr, "[%7.1fs] %-10s %-42s %6.2f%%\n", seconds_since_start(),
                   trace.name.c_str(), spec.name.c_str(), hit);
    }
    const double top_keys = 100.0 * zipf.HeadMass(options.capacity);
    const double irm_optimum = workload == '1'   ? top_keys
                               : workload == '2' ? top_keys * (1 - options.scan_fraction)
                                                 : -1;
    PrintTable(trace, rows, irm_optimum);
  }
  return 0;
}
