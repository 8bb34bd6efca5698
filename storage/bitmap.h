// Bit operations on the bytes of a string (Redis's bitops.c, without RESP). Bits are numbered
// from the most significant bit of the first byte, as SETBIT, GETBIT, BITPOS and BITFIELD
// number them; reads past the end see zero bits.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace strata::storage {

bool GetBit(std::string_view bytes, uint64_t offset);
// `offset` must be inside `bytes`.
void SetBit(std::span<char> bytes, uint64_t offset, bool on);

// Set bits among bits [first, last] (inclusive; last inside `bytes`).
uint64_t CountBits(std::string_view bytes, uint64_t first, uint64_t last);

// The first bit equal to `bit` among bits [first, last] (inclusive; last inside `bytes`), or -1.
int64_t FindBit(std::string_view bytes, bool bit, uint64_t first, uint64_t last);

// The `bits`-wide (1..64) unsigned field at bit `offset`, zero-padded past the end.
uint64_t GetBitfield(std::string_view bytes, uint64_t offset, int bits);
// The same field read as two's complement.
int64_t GetSignedBitfield(std::string_view bytes, uint64_t offset, int bits);
// Writes the low `bits` of value at `offset`; the field must be inside `bytes`.
void SetBitfield(std::span<char> bytes, uint64_t offset, int bits, uint64_t value);

// BITFIELD's OVERFLOW modes.
enum class Overflow { kWrap, kSat, kFail };

// value + increment in a field of `bits` (signed: 1..64, unsigned: 1..63), as BITFIELD INCRBY and
// SET compute it: true on overflow, with *result wrapped or saturated per `mode` (unchanged
// for kFail). Without overflow, *result is the plain sum.
bool AddToSignedField(int64_t value, int64_t increment, int bits, Overflow mode, int64_t* result);
bool AddToUnsignedField(uint64_t value, int64_t increment, int bits, Overflow mode, uint64_t* result);

}  // namespace strata::storage
