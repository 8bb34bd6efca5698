// Unsigned LEB128 varints, the length prefix of every packed encoding in storage/ (Entry keys and
// strings, list chunks, packed sets): 7 bits a byte, low bits first, high bit set on all but the
// last byte. 127 takes one byte, 128 two, a 4 GB length five.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::storage {

inline size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

// Writes `value` at `out`; returns the byte after it.
inline unsigned char* PutVarint(unsigned char* out, uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<unsigned char>(value);
  return out;
}

// Reads a varint at `in` into *value; returns the byte after it.
inline const unsigned char* GetVarint(const unsigned char* in, uint64_t* value) {
  uint64_t result = 0;
  int shift = 0;
  while (*in & 0x80) {
    result |= static_cast<uint64_t>(*in++ & 0x7f) << shift;
    shift += 7;
  }
  result |= static_cast<uint64_t>(*in++) << shift;
  *value = result;
  return in;
}

}  // namespace strata::storage
