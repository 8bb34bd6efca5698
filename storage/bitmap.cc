#include "storage/bitmap.h"

#include <bit>
#include <cstring>
#include <limits>

namespace strata::storage {

namespace {

uint8_t ByteAt(std::string_view bytes, uint64_t index) {
  return index < bytes.size() ? static_cast<uint8_t>(bytes[index]) : 0;
}

// Bits [from, to] of one byte (0 = most significant), as a mask.
uint8_t MaskWithin(unsigned from, unsigned to) {
  return static_cast<uint8_t>((0xFFu >> from) & (0xFFu << (7 - to)));
}

}  // namespace

bool GetBit(std::string_view bytes, uint64_t offset) {
  return (ByteAt(bytes, offset >> 3) >> (7 - (offset & 7))) & 1;
}

void SetBit(std::span<char> bytes, uint64_t offset, bool on) {
  const uint8_t mask = static_cast<uint8_t>(1u << (7 - (offset & 7)));
  auto& byte = reinterpret_cast<uint8_t&>(bytes[offset >> 3]);
  byte = on ? (byte | mask) : (byte & ~mask);
}

uint64_t CountBits(std::string_view bytes, uint64_t first, uint64_t last) {
  const uint64_t first_byte = first >> 3, last_byte = last >> 3;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (first_byte == last_byte) return std::popcount<uint8_t>(p[first_byte] & MaskWithin(first & 7, last & 7));
  uint64_t count = std::popcount<uint8_t>(p[first_byte] & MaskWithin(first & 7, 7)) +
                   std::popcount<uint8_t>(p[last_byte] & MaskWithin(0, last & 7));
  uint64_t i = first_byte + 1;
  for (; i + 8 <= last_byte; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    count += std::popcount(word);
  }
  for (; i < last_byte; ++i) count += std::popcount(p[i]);
  return count;
}

int64_t FindBit(std::string_view bytes, bool bit, uint64_t first, uint64_t last) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint64_t last_byte = last >> 3;
  uint64_t index = first >> 3;
  // Looking for a 0 is looking for a 1 in the complement.
  const uint8_t flip = bit ? 0 : 0xFF;
  auto search_byte = [&](uint64_t i, uint8_t mask) -> int64_t {
    const uint8_t candidates = static_cast<uint8_t>((p[i] ^ flip) & mask);
    if (candidates == 0) return -1;
    return static_cast<int64_t>(i * 8 + std::countl_zero(candidates));
  };
  // The first byte, masked to the range; then whole words; then the bytes left.
  const unsigned first_in_byte = first & 7;
  if (index == last_byte) return search_byte(index, MaskWithin(first_in_byte, last & 7));
  if (int64_t found = search_byte(index, MaskWithin(first_in_byte, 7)); found >= 0) return found;
  ++index;
  const uint64_t skip = bit ? 0 : ~uint64_t{0};
  while (index + 8 <= last_byte) {
    uint64_t word;
    std::memcpy(&word, p + index, 8);
    if (word != skip) break;
    index += 8;
  }
  for (; index < last_byte; ++index) {
    if (int64_t found = search_byte(index, 0xFF); found >= 0) return found;
  }
  return search_byte(last_byte, MaskWithin(0, last & 7));
}

uint64_t GetBitfield(std::string_view bytes, uint64_t offset, int bits) {
  uint64_t value = 0;
  for (int i = 0; i < bits; ++i) value = (value << 1) | (GetBit(bytes, offset + i) ? 1 : 0);
  return value;
}

int64_t GetSignedBitfield(std::string_view bytes, uint64_t offset, int bits) {
  uint64_t value = GetBitfield(bytes, offset, bits);
  if (bits < 64 && (value >> (bits - 1)) & 1) value |= ~uint64_t{0} << bits;  // sign-extend
  return static_cast<int64_t>(value);
}

void SetBitfield(std::span<char> bytes, uint64_t offset, int bits, uint64_t value) {
  for (int i = 0; i < bits; ++i) SetBit(bytes, offset + i, (value >> (bits - 1 - i)) & 1);
}

bool AddToSignedField(int64_t value, int64_t increment, int bits, Overflow mode, int64_t* result) {
  const int64_t max = bits == 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -max - 1;
  // Computed in unsigned arithmetic so nothing overflows; read only once value is in range.
  const int64_t max_increment = static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
  const int64_t min_increment = static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
  const bool above = value > max || (bits != 64 && increment > max_increment) ||
                     (value >= 0 && increment > 0 && increment > max_increment);
  const bool below = !above && (value < min || (bits != 64 && increment < min_increment) ||
                                (value < 0 && increment < 0 && increment < min_increment));
  if (!above && !below) {
    *result = static_cast<int64_t>(static_cast<uint64_t>(value) + static_cast<uint64_t>(increment));
    return false;
  }
  if (mode == Overflow::kSat) {
    *result = above ? max : min;
  } else if (mode == Overflow::kWrap) {
    uint64_t sum = static_cast<uint64_t>(value) + static_cast<uint64_t>(increment);
    if (bits < 64) {
      const uint64_t high = ~uint64_t{0} << bits;
      sum = (sum >> (bits - 1)) & 1 ? (sum | high) : (sum & ~high);
    }
    *result = static_cast<int64_t>(sum);
  }
  return true;
}

bool AddToUnsignedField(uint64_t value, int64_t increment, int bits, Overflow mode, uint64_t* result) {
  const uint64_t max = (uint64_t{1} << bits) - 1;  // bits <= 63
  const int64_t max_increment = static_cast<int64_t>(max - value);
  const int64_t min_increment = static_cast<int64_t>(-value);
  const bool above = value > max || (increment > 0 && increment > max_increment);
  const bool below = !above && increment < 0 && increment < min_increment;
  if (!above && !below) {
    *result = value + static_cast<uint64_t>(increment);
    return false;
  }
  if (mode == Overflow::kSat) {
    *result = above ? max : 0;
  } else if (mode == Overflow::kWrap) {
    *result = (value + static_cast<uint64_t>(increment)) & max;
  }
  return true;
}

}  // namespace strata::storage
