// HyperLogLog: PFADD, PFCOUNT and PFMERGE over the bytes of a string value, byte for byte as
// Redis 7.0 lays them out, so a value moved between Redis and strata with GET/SET (or DUMP's
// string payload) keeps working and counts the same on both sides.
//
// The sketch. Each element is hashed with MurmurHash64A (seed 0xadc83b19). The low 14 bits of
// the hash (kHllPrecision) pick one of 16384 registers; the remaining 50 bits give a rank: one
// plus the number of trailing zero bits, 1..51. A register keeps the largest rank it has seen.
// A register holding r means "some element here had r-1 zero bits", which happens once in 2^r
// elements, so the register values together estimate how many distinct elements went in.
//
// The estimate is Otmar Ertl's "improved raw estimator" (arXiv:1702.01284), as Redis 7 computes
// it: a histogram C[k] of the register values, then
//   z = m*tau(1 - C[51]/m);  for k = 50..1: z = (z + C[k]) / 2;  z += m*sigma(C[0]/m)
//   estimate = round(alpha_inf * m^2 / z),   alpha_inf = 1/(2 ln 2), m = 16384
// with sigma and tau the two series of the paper. It needs no bias tables and stays accurate from
// a handful of elements (where sigma acts like linear counting) to 2^64. The standard error is
// 1.04/sqrt(m) = 0.81%.
//
// The bytes. A 16-byte header, then the registers in one of two encodings:
//   "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached count, 8 bytes little-endian
// The top bit of the last count byte set means "stale: recount" (every change sets it; a
// single-key count clears it by writing the fresh count back, which is why PFCOUNT writes).
//   dense   16384 registers of 6 bits, packed from the low bit of each byte up: 12288 bytes,
//           12304 with the header, whatever the count.
//   sparse  run-length opcodes, read in order over registers 0..16383:
//             ZERO   00xxxxxx           xxxxxx+1 (1..64) registers at 0
//             XZERO  01xxxxxx yyyyyyyy  the 14-bit xxxxxxyyyyyyyy+1 (1..16384) registers at 0
//             VAL    1vvvvvxx           xx+1 (1..4) registers at vvvvv+1 (1..32)
//           A new HLL is one XZERO covering all 16384 registers: 18 bytes in all. A sparse value
//           becomes dense, for good, when a register needs a value above 32 or when an update
//           would make the whole value longer than hll-sparse-max-bytes (default 3000 bytes,
//           reached at about 1700 distinct elements).
// Sparse updates split the run holding the register (XZERO -> XZERO VAL XZERO at worst) and then
// join equal neighbouring VALs, exactly as Redis's hllSparseSet does, because the bytes are part
// of the contract: the same PFADDs in the same order give the same value as in Redis.
//
// Worked example. PFADD k a b c gives (hex)
//   48 59 4c 4c 01 000000 0000000000000080 | 60 f3 80 50 b1 84 4b fb 80 42 5a
// "HYLL", sparse, stale cached count; then XZERO 8436 (registers 0..8435 are 0), VAL 1x1
// (register 8436 = 1), XZERO 4274, VAL 2x1 (register 12711 = 2), XZERO 3068, VAL 1x1, XZERO 603:
// 8436+1+4274+1+3068+1+603 = 16384 registers. PFCOUNT k then answers 3 and stores 3 in the
// header (03 00 .. 00, the stale bit cleared).
//
// Validity, as Redis checks it. A string is an HLL when it is at least 16 bytes, starts with
// "HYLL", has encoding 0 or 1 and, if dense, is exactly 12304 bytes; otherwise every operation
// fails with HllWrongTypeError(). A sparse body is only checked when it is read: one whose runs do
// not add up to exactly 16384 registers fails with HllCorruptError() when it is counted, merged
// or promoted, or when an add cannot find its register (an add that can, succeeds, as in Redis).
// A cached count that is not stale is answered as is, without reading the registers.
//
// One difference from Redis, for crafted values only: a sparse body whose last opcode is an XZERO
// missing its second byte is read with that byte as 0, as Redis reads it right after SET (its
// string's terminating NUL). Once Redis has itself split such an XZERO, it reads whatever byte
// its own update left behind the string's end, which the value's bytes do not record; from then
// on the two may disagree about that value. Redis never produces such a value from valid ones.
//
// Not thread-safe: the values belong to entries that their shard lock guards. No state is kept
// between calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::storage {

inline constexpr int kHllPrecision = 14;
inline constexpr size_t kHllRegisters = size_t{1} << kHllPrecision;
// hll-sparse-max-bytes: Redis's default.
inline constexpr size_t kHllDefaultSparseMaxBytes = 3000;

// PFCOUNT/PFADD/PFMERGE on a string that is not an HLL (see "Validity" above). A key of another
// type gets the usual WrongTypeError() (storage/errors.h), as in Redis.
inline absl::Status HllWrongTypeError() {
  return absl::FailedPreconditionError("WRONGTYPE Key is not a valid HyperLogLog string value.");
}
// A sparse HLL whose opcodes do not cover exactly 16384 registers.
inline absl::Status HllCorruptError() {
  return absl::DataLossError("INVALIDOBJ Corrupted HLL object detected");
}

// Redis's header checks (isHLLObjectOrReply): length, magic, encoding, dense length.
bool IsValidHll(std::string_view value);

// An empty HLL as Redis creates it: sparse, one XZERO, cached count 0 and not stale (18 bytes).
std::string NewHll();

// Marks the cached count stale. PFADD on a missing key creates NewHll() and marks it stale even
// when no element is given (it answers 1): PFADD k with no elements leaves ...0080 7fff.
void HllInvalidateCache(std::string* hll);

// PFADD of one element: raises the element's register if its rank is larger. True if a register
// changed, in which case the cached count is marked stale (PFADD answers 1 if any element of the
// command, or the key's creation, changed something). May promote a sparse HLL to dense; the
// header's unused bytes and cached count bytes are kept through a promotion, as in Redis.
// Errors: HllWrongTypeError(), HllCorruptError(); elements added before an error stay added.
absl::StatusOr<bool> HllAdd(std::string* hll, std::string_view element, size_t sparse_max_bytes);

// PFCOUNT of one key: the cached count if it is not stale; otherwise counts the registers and
// writes the count back into the header (so the value changes: *cache_written tells the caller to
// treat the key as modified, as Redis does). The result is a uint64_t; Redis replies with it cast
// to a signed 64-bit integer, which only matters for crafted dense values whose registers are all
// 51 or more, where Redis (x86-64) answers 2^63, i.e. -9223372036854775808: so does this.
absl::StatusOr<uint64_t> HllCount(std::string* hll, bool* cache_written = nullptr);

// The union of several HLLs, register by register the maximum (Redis's max[] array), from which
// PFCOUNT with several keys counts and PFMERGE writes. 16 KB: make one per command.
class HllUnion {
 public:
  // Folds in one key's value (a missing key is simply not added: it is an empty HLL). On error
  // (HllWrongTypeError(), HllCorruptError()) the union is unchanged.
  absl::Status Add(std::string_view hll);

  // PFCOUNT k1 k2 ...: the count of the union. Nothing is cached anywhere.
  uint64_t Count() const;

  // PFMERGE dest k1 ...: writes the union into *dest, which is the destination's current value
  // (which must have been Add()ed first, as PFMERGE reads the destination as a source too) or
  // NewHll() if the key did not exist. Like Redis 7.0, *dest is converted to dense first if any
  // added value was dense, and otherwise stays sparse while it fits (each register is set in
  // index order, promoting on the way if needed); the cached count is always marked stale.
  // A sparse destination costs one sparse update per non-zero register, as in Redis.
  absl::Status StoreInto(std::string* dest, size_t sparse_max_bytes) const;

  const std::array<uint8_t, kHllRegisters>& registers() const { return max_; }

 private:
  std::array<uint8_t, kHllRegisters> max_{};
  bool any_dense_ = false;
};

}  // namespace strata::storage
