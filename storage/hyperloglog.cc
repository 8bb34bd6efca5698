#include "storage/hyperloglog.h"

#include <bit>
#include <cmath>
#include <optional>

namespace strata::storage {

namespace {

// The header: "HYLL" | encoding | 3 unused bytes | cached count (little-endian).
constexpr size_t kHeaderSize = 16;
constexpr std::string_view kMagic = "HYLL";
constexpr size_t kEncodingOffset = 4;
constexpr size_t kCacheOffset = 8;
constexpr size_t kCacheBytes = 8;
constexpr uint8_t kDense = 0;
constexpr uint8_t kSparse = 1;
constexpr uint8_t kStaleBit = 0x80;  // in the last (most significant) byte of the cached count

// Dense: 6-bit registers, low bits first.
constexpr int kRegisterBits = 6;
constexpr unsigned kRegisterMask = (1u << kRegisterBits) - 1;
constexpr size_t kDenseBytes = kHllRegisters * kRegisterBits / 8;  // 12288
constexpr size_t kDenseSize = kHeaderSize + kDenseBytes;            // 12304

// The hash: the low kHllPrecision bits pick the register, the other kRankBits give the rank.
constexpr uint64_t kHashSeed = 0xadc83b19;
constexpr int kRankBits = 64 - kHllPrecision;  // Redis's HLL_Q: 50
constexpr int kMaxRank = kRankBits + 1;        // 51: all 50 bits zero

// Sparse opcodes (see the header).
constexpr unsigned kOpcodeMask = 0xc0;
constexpr unsigned kXZeroTag = 0x40;
constexpr unsigned kValBit = 0x80;
constexpr size_t kZeroMaxRun = 64;
constexpr size_t kValMaxRun = 4;
constexpr uint8_t kValMaxValue = 32;
// After an update, Redis tries to join equal VALs among this many opcodes from the one before the
// updated one; a wider or narrower window would give different (equally valid) bytes.
constexpr int kJoinWindow = 5;

// 1/(2 ln 2): the estimator's constant for m -> infinity, as Redis spells it.
constexpr double kAlphaInf = 0.721347520444481703680;

// A register histogram: how many registers hold each 6-bit value.
using Histogram = std::array<int64_t, 64>;

unsigned char* Bytes(std::string* value) { return reinterpret_cast<unsigned char*>(value->data()); }
const unsigned char* Bytes(std::string_view value) {
  return reinterpret_cast<const unsigned char*>(value.data());
}

uint8_t EncodingOf(std::string_view hll) { return static_cast<uint8_t>(hll[kEncodingOffset]); }

// ---- Hashing ----

// MurmurHash2, 64-bit version (Austin Appleby), reading 8-byte blocks little-endian whatever the
// host, as Redis's endian-neutral variant does.
uint64_t MurmurHash64A(std::string_view data, uint64_t seed) {
  constexpr uint64_t kMultiplier = 0xc6a4a7935bd1e995;
  constexpr int kShift = 47;
  const unsigned char* p = Bytes(data);
  const size_t length = data.size();
  uint64_t h = seed ^ (length * kMultiplier);
  const size_t blocks = length / 8;
  for (size_t i = 0; i < blocks; ++i, p += 8) {
    uint64_t k = 0;
    for (int b = 7; b >= 0; --b) k = (k << 8) | p[b];
    k *= kMultiplier;
    k ^= k >> kShift;
    k *= kMultiplier;
    h ^= k;
    h *= kMultiplier;
  }
  const size_t tail = length & 7;
  if (tail != 0) {
    for (size_t b = 0; b < tail; ++b) h ^= uint64_t{p[b]} << (8 * b);
    h *= kMultiplier;
  }
  h ^= h >> kShift;
  h *= kMultiplier;
  h ^= h >> kShift;
  return h;
}

struct RegisterUpdate {
  size_t index;
  uint8_t rank;  // 1..kMaxRank
};

RegisterUpdate HashElement(std::string_view element) {
  const uint64_t hash = MurmurHash64A(element, kHashSeed);
  // The sentinel bit above the 50 rank bits caps the rank at 51 when they are all zero.
  const uint64_t rank_bits = (hash >> kHllPrecision) | (uint64_t{1} << kRankBits);
  return {static_cast<size_t>(hash & (kHllRegisters - 1)),
          static_cast<uint8_t>(std::countr_zero(rank_bits) + 1)};
}

// ---- Dense registers ----

uint8_t DenseGet(const unsigned char* registers, size_t index) {
  const size_t bit = index * kRegisterBits;
  const size_t byte = bit / 8;
  const unsigned shift = bit % 8;
  unsigned value = registers[byte] >> shift;
  // Only touch the next byte when the register straddles it: the last register (16383) does not,
  // so this never reads past the value (Redis relies on its string's trailing NUL instead).
  if (shift > 8 - kRegisterBits) value |= unsigned{registers[byte + 1]} << (8 - shift);
  return static_cast<uint8_t>(value & kRegisterMask);
}

void DenseSet(unsigned char* registers, size_t index, uint8_t value) {
  const size_t bit = index * kRegisterBits;
  const size_t byte = bit / 8;
  const unsigned shift = bit % 8;
  registers[byte] = static_cast<unsigned char>((registers[byte] & ~(kRegisterMask << shift)) |
                                               (unsigned{value} << shift));
  if (shift > 8 - kRegisterBits) {
    const unsigned spill = 8 - shift;
    registers[byte + 1] = static_cast<unsigned char>((registers[byte + 1] & ~(kRegisterMask >> spill)) |
                                                     (unsigned{value} >> spill));
  }
}

// Calls fn(index, value) for every register, four registers (three bytes) at a time.
template <typename Fn>
void ForEachDenseRegister(const unsigned char* registers, Fn fn) {
  for (size_t byte = 0, index = 0; byte < kDenseBytes; byte += 3, index += 4) {
    const unsigned b0 = registers[byte], b1 = registers[byte + 1], b2 = registers[byte + 2];
    fn(index, static_cast<uint8_t>(b0 & kRegisterMask));
    fn(index + 1, static_cast<uint8_t>((b0 >> 6 | b1 << 2) & kRegisterMask));
    fn(index + 2, static_cast<uint8_t>((b1 >> 4 | b2 << 4) & kRegisterMask));
    fn(index + 3, static_cast<uint8_t>(b2 >> 2));
  }
}

// Raises the register to `rank` if it is lower; true if it changed.
bool DenseRaise(std::string* hll, size_t index, uint8_t rank) {
  unsigned char* registers = Bytes(hll) + kHeaderSize;
  if (DenseGet(registers, index) >= rank) return false;
  DenseSet(registers, index, rank);
  return true;
}

// ---- Sparse opcodes ----

struct SparseOp {
  enum Kind : uint8_t { kZero, kXZero, kVal };
  Kind kind;
  size_t width;   // bytes: 2 for XZERO, else 1
  size_t run;     // registers covered
  uint8_t value;  // 0 unless kVal
};

// The opcode at body[pos], pos < body.size(). An XZERO cut off by the end of the value reads its
// missing second byte as 0, because Redis reads its string's terminating NUL there: such a value
// counts, merges and updates here exactly as it does in Redis.
SparseOp DecodeSparse(std::string_view body, size_t pos) {
  const unsigned op = static_cast<unsigned char>(body[pos]);
  if ((op & kOpcodeMask) == 0) return {SparseOp::kZero, 1, (op & 0x3f) + size_t{1}, 0};
  if ((op & kOpcodeMask) == kXZeroTag) {
    const unsigned low = pos + 1 < body.size() ? static_cast<unsigned char>(body[pos + 1]) : 0;
    return {SparseOp::kXZero, 2, (((op & 0x3f) << 8) | low) + size_t{1}, 0};
  }
  return {SparseOp::kVal, 1, (op & 0x3) + size_t{1}, static_cast<uint8_t>(((op >> 2) & 0x1f) + 1)};
}

char ValOpcode(uint8_t value, size_t run) {
  return static_cast<char>(kValBit | unsigned(value - 1) << 2 | unsigned(run - 1));
}

// Appends the shortest opcode for `run` zero registers (ZERO up to 64, XZERO beyond).
void AppendZeros(std::string* out, size_t run) {
  if (run > kZeroMaxRun) {
    out->push_back(static_cast<char>(kXZeroTag | (run - 1) >> 8));
    out->push_back(static_cast<char>((run - 1) & 0xff));
  } else {
    out->push_back(static_cast<char>(run - 1));
  }
}

std::string_view SparseBody(std::string_view hll) { return hll.substr(kHeaderSize); }

// Calls fn(first_register, run, value) for each opcode in order. False if the runs do not cover
// exactly kHllRegisters registers (fn is never called past the last register, so a corrupt value
// cannot make a caller write out of bounds).
template <typename Fn>
bool WalkSparse(std::string_view body, Fn fn) {
  size_t covered = 0;
  for (size_t pos = 0; pos < body.size();) {
    const SparseOp op = DecodeSparse(body, pos);
    if (covered + op.run > kHllRegisters) return false;
    fn(covered, op.run, op.value);
    covered += op.run;
    pos += op.width;
  }
  return covered == kHllRegisters;
}

// Rewrites a sparse HLL as dense. The header is kept but for the encoding byte (Redis copies it
// whole, cached count and unused bytes included). False, leaving *hll alone, if it is corrupt.
bool PromoteToDense(std::string* hll) {
  std::string dense(kDenseSize, '\0');
  dense.replace(0, kHeaderSize, *hll, 0, kHeaderSize);
  dense[kEncodingOffset] = static_cast<char>(kDense);
  unsigned char* registers = Bytes(&dense) + kHeaderSize;
  const bool valid = WalkSparse(SparseBody(*hll), [&](size_t first, size_t run, uint8_t value) {
    if (value == 0) return;
    for (size_t i = 0; i < run; ++i) DenseSet(registers, first + i, value);
  });
  if (!valid) return false;
  *hll = std::move(dense);
  return true;
}

enum class RaiseOutcome { kUnchanged, kChanged, kCorrupt };

RaiseOutcome PromoteAndRaise(std::string* hll, size_t index, uint8_t rank) {
  if (!PromoteToDense(hll)) return RaiseOutcome::kCorrupt;
  // A promotion only happens when the register needs raising, so this always changes it.
  DenseRaise(hll, index, rank);
  return RaiseOutcome::kChanged;
}

// Raises one register of a sparse HLL, in place, as Redis's hllSparseSet: find the opcode that
// covers the register; if it must change, replace it by the shortest split (at most
// XZERO VAL XZERO, 5 bytes); then join equal neighbouring VALs. Promotes to dense when the rank
// exceeds what VAL holds or the value would grow past sparse_max_bytes.
RaiseOutcome SparseRaise(std::string* hll, size_t index, uint8_t rank, size_t sparse_max_bytes) {
  if (rank > kValMaxValue) return PromoteAndRaise(hll, index, rank);

  // Step 1: the opcode covering `index`, the register it starts at, and the opcode before it.
  const std::string_view body = SparseBody(*hll);
  size_t pos = 0;
  size_t first = 0;
  std::optional<size_t> previous;
  std::optional<SparseOp> found;
  while (pos < body.size()) {
    const SparseOp op = DecodeSparse(body, pos);
    if (index < first + op.run) {
      found = op;
      break;
    }
    previous = pos;
    pos += op.width;
    first += op.run;
  }
  if (!found) return RaiseOutcome::kCorrupt;  // the opcodes end before the register
  const SparseOp op = *found;

  // Step 2: the in-place cases (a VAL already high enough; a one-register VAL or ZERO), else
  // Step 3: splice in the split.
  if (op.kind == SparseOp::kVal && op.value >= rank) return RaiseOutcome::kUnchanged;
  if (op.run == 1 && op.kind != SparseOp::kXZero) {
    (*hll)[kHeaderSize + pos] = ValOpcode(rank, 1);
  } else {
    const size_t last = first + op.run - 1;
    std::string split;
    if (op.kind == SparseOp::kVal) {
      if (index != first) split.push_back(ValOpcode(op.value, index - first));
      split.push_back(ValOpcode(rank, 1));
      if (index != last) split.push_back(ValOpcode(op.value, last - index));
    } else {
      if (index != first) AppendZeros(&split, index - first);
      split.push_back(ValOpcode(rank, 1));
      if (index != last) AppendZeros(&split, last - index);
    }
    // Sizes are computed as Redis computes them, with an XZERO always two bytes long: for a
    // truncated final XZERO (see DecodeSparse) that drops the split's last byte, as in Redis.
    const size_t new_size = hll->size() + split.size() - op.width;
    if (split.size() > op.width && new_size > sparse_max_bytes) return PromoteAndRaise(hll, index, rank);
    hll->replace(kHeaderSize + pos, op.width, split);
    hll->resize(new_size);
  }

  // Step 4: join equal adjacent VALs (their runs adding up to at most 4) in a window of
  // kJoinWindow opcodes from the one before the update. After a join the same position is tried
  // again, so a run can absorb its right neighbour too.
  size_t at = kHeaderSize + previous.value_or(0);
  int budget = kJoinWindow;
  while (at < hll->size() && budget-- > 0) {
    const unsigned here = static_cast<unsigned char>((*hll)[at]);
    if ((here & kOpcodeMask) == kXZeroTag) {
      at += 2;
      continue;
    }
    if ((here & kOpcodeMask) == 0) {
      at += 1;
      continue;
    }
    if (at + 1 < hll->size()) {
      const std::string_view view(*hll);
      const SparseOp left = DecodeSparse(view, at);
      const SparseOp right = DecodeSparse(view, at + 1);
      if (right.kind == SparseOp::kVal && left.value == right.value &&
          left.run + right.run <= kValMaxRun) {
        (*hll)[at + 1] = ValOpcode(left.value, left.run + right.run);
        hll->erase(at, 1);
        continue;
      }
    }
    ++at;
  }
  return RaiseOutcome::kChanged;
}

// Raises one register in either encoding (the cached count is the caller's to invalidate).
RaiseOutcome Raise(std::string* hll, size_t index, uint8_t rank, size_t sparse_max_bytes) {
  if (EncodingOf(*hll) == kDense) {
    return DenseRaise(hll, index, rank) ? RaiseOutcome::kChanged : RaiseOutcome::kUnchanged;
  }
  return SparseRaise(hll, index, rank, sparse_max_bytes);
}

// ---- Counting ----

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), summed until it stops changing (Ertl, eq. for the
// registers at 0).
double Sigma(double x) {
  if (x == 1.0) return INFINITY;
  double weight = 1;
  double sum = x;
  double previous;
  do {
    x *= x;
    previous = sum;
    sum += x * weight;
    weight += weight;
  } while (previous != sum);
  return sum;
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3 (Ertl, for the registers at the
// maximum rank). The square is written as a product: Redis's pow(d, 2) compiles to d*d.
double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double weight = 1.0;
  double sum = 1 - x;
  double previous;
  do {
    x = std::sqrt(x);
    previous = sum;
    weight *= 0.5;
    sum -= (1 - x) * (1 - x) * weight;
  } while (previous != sum);
  return sum / 3;
}

// Ertl's improved raw estimator, with the operations in Redis's order so the doubles round the
// same way and the counts agree exactly. That also assumes no fused multiply-add contraction,
// which x86-64 builds without -mfma (Debian's Redis and ours) never do.
uint64_t EstimateFromHistogram(const Histogram& histogram) {
  const double m = kHllRegisters;
  double z = m * Tau((m - histogram[kMaxRank]) / m);
  for (int k = kRankBits; k >= 1; --k) {
    z += histogram[k];
    z *= 0.5;
  }
  z += m * Sigma(histogram[0] / m);
  const double estimate = kAlphaInf * m * m / z;
  // Redis rounds with llroundl into a long long. Only crafted dense registers (all >= 51) get out
  // of its range (or divide by zero); x86-64 then gives LLONG_MIN, read back as 2^63.
  if (!(estimate < 0x1p63)) return uint64_t{1} << 63;
  return static_cast<uint64_t>(std::llround(estimate));
}

void DenseHistogram(std::string_view hll, Histogram* histogram) {
  ForEachDenseRegister(Bytes(hll) + kHeaderSize, [&](size_t, uint8_t value) { ++(*histogram)[value]; });
}

// False if the sparse body is corrupt.
bool SparseHistogram(std::string_view hll, Histogram* histogram) {
  return WalkSparse(SparseBody(hll),
                    [&](size_t, size_t run, uint8_t value) { (*histogram)[value] += static_cast<int64_t>(run); });
}

bool CacheIsStale(std::string_view hll) {
  return (static_cast<uint8_t>(hll[kCacheOffset + kCacheBytes - 1]) & kStaleBit) != 0;
}

uint64_t CachedCount(std::string_view hll) {
  uint64_t count = 0;
  for (size_t i = kCacheBytes; i-- > 0;) count = (count << 8) | static_cast<uint8_t>(hll[kCacheOffset + i]);
  return count;
}

void StoreCachedCount(std::string* hll, uint64_t count) {
  for (size_t i = 0; i < kCacheBytes; ++i) (*hll)[kCacheOffset + i] = static_cast<char>(count >> (8 * i));
}

}  // namespace

bool IsValidHll(std::string_view value) {
  if (value.size() < kHeaderSize || value.substr(0, kMagic.size()) != kMagic) return false;
  const uint8_t encoding = EncodingOf(value);
  if (encoding == kDense) return value.size() == kDenseSize;
  return encoding == kSparse;
}

std::string NewHll() {
  std::string hll(kMagic);
  hll.resize(kHeaderSize, '\0');
  hll[kEncodingOffset] = static_cast<char>(kSparse);
  AppendZeros(&hll, kHllRegisters);  // one XZERO: 7f ff
  return hll;
}

void HllInvalidateCache(std::string* hll) {
  (*hll)[kCacheOffset + kCacheBytes - 1] = static_cast<char>((*hll)[kCacheOffset + kCacheBytes - 1] | kStaleBit);
}

absl::StatusOr<bool> HllAdd(std::string* hll, std::string_view element, size_t sparse_max_bytes) {
  if (!IsValidHll(*hll)) return HllWrongTypeError();
  const RegisterUpdate update = HashElement(element);
  switch (Raise(hll, update.index, update.rank, sparse_max_bytes)) {
    case RaiseOutcome::kCorrupt:
      return HllCorruptError();
    case RaiseOutcome::kUnchanged:
      return false;
    case RaiseOutcome::kChanged:
      break;
  }
  HllInvalidateCache(hll);
  return true;
}

absl::StatusOr<uint64_t> HllCount(std::string* hll, bool* cache_written) {
  if (cache_written != nullptr) *cache_written = false;
  if (!IsValidHll(*hll)) return HllWrongTypeError();
  if (!CacheIsStale(*hll)) return CachedCount(*hll);
  Histogram histogram{};
  if (EncodingOf(*hll) == kDense) {
    DenseHistogram(*hll, &histogram);
  } else if (!SparseHistogram(*hll, &histogram)) {
    return HllCorruptError();
  }
  const uint64_t count = EstimateFromHistogram(histogram);
  StoreCachedCount(hll, count);
  if (cache_written != nullptr) *cache_written = true;
  return count;
}

absl::Status HllUnion::Add(std::string_view hll) {
  if (!IsValidHll(hll)) return HllWrongTypeError();
  if (EncodingOf(hll) == kDense) {
    any_dense_ = true;
    ForEachDenseRegister(Bytes(hll) + kHeaderSize, [&](size_t index, uint8_t value) {
      if (value > max_[index]) max_[index] = value;
    });
    return absl::OkStatus();
  }
  // Validate first so that a corrupt value leaves the union as it was.
  const std::string_view body = SparseBody(hll);
  if (!WalkSparse(body, [](size_t, size_t, uint8_t) {})) return HllCorruptError();
  WalkSparse(body, [&](size_t first, size_t run, uint8_t value) {
    for (size_t i = first; i < first + run; ++i) {
      if (value > max_[i]) max_[i] = value;
    }
  });
  return absl::OkStatus();
}

uint64_t HllUnion::Count() const {
  Histogram histogram{};
  for (uint8_t value : max_) ++histogram[value & kRegisterMask];
  return EstimateFromHistogram(histogram);
}

absl::Status HllUnion::StoreInto(std::string* dest, size_t sparse_max_bytes) const {
  if (!IsValidHll(*dest)) return HllWrongTypeError();
  if (any_dense_ && EncodingOf(*dest) == kSparse && !PromoteToDense(dest)) return HllCorruptError();
  for (size_t index = 0; index < kHllRegisters; ++index) {
    if (max_[index] == 0) continue;
    // Cannot fail when *dest was Add()ed (so it is valid); checked for callers that did not.
    if (Raise(dest, index, max_[index], sparse_max_bytes) == RaiseOutcome::kCorrupt) return HllCorruptError();
  }
  HllInvalidateCache(dest);
  return absl::OkStatus();
}

}  // namespace strata::storage
