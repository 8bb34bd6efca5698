// Unit tests of storage/bitmap.h: bit numbering, counts and searches against a bit-by-bit model
// over random strings and ranges (including ranges inside one byte and across word boundaries),
// bitfields at unaligned offsets, and BITFIELD's overflow arithmetic at the type limits.
#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "storage/bitmap.h"

namespace strata::storage {
namespace {

bool ModelBit(const std::string& s, uint64_t i) { return (static_cast<uint8_t>(s[i / 8]) >> (7 - i % 8)) & 1; }

TEST(BitmapTest, BitZeroIsTheMostSignificantBitOfTheFirstByte) {
  std::string s(2, '\0');
  SetBit(s, 0, true);
  SetBit(s, 15, true);
  EXPECT_EQ(s, std::string("\x80\x01", 2));
  EXPECT_TRUE(GetBit(s, 0));
  EXPECT_FALSE(GetBit(s, 1));
  EXPECT_FALSE(GetBit(s, 1000));  // past the end reads as zero
  SetBit(s, 0, false);
  EXPECT_EQ(s[0], '\0');
}

TEST(BitmapTest, CountAndFindAgreeWithABitByBitModel) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 3000; ++round) {
    std::string s(1 + rng() % 40, '\0');
    const int density = static_cast<int>(rng() % 4);  // all zeros, sparse, dense, all ones
    for (char& c : s) {
      c = static_cast<char>(density == 0 ? 0 : density == 3 ? 0xFF : density == 1 ? (rng() % 8 == 0 ? rng() : 0) : rng());
    }
    const uint64_t bits = s.size() * 8;
    const uint64_t first = rng() % bits;
    const uint64_t last = first + rng() % (bits - first);
    uint64_t count = 0;
    int64_t first_one = -1, first_zero = -1;
    for (uint64_t i = first; i <= last; ++i) {
      count += ModelBit(s, i);
      if (ModelBit(s, i) && first_one < 0) first_one = static_cast<int64_t>(i);
      if (!ModelBit(s, i) && first_zero < 0) first_zero = static_cast<int64_t>(i);
    }
    ASSERT_EQ(CountBits(s, first, last), count) << first << ".." << last;
    ASSERT_EQ(FindBit(s, true, first, last), first_one) << first << ".." << last;
    ASSERT_EQ(FindBit(s, false, first, last), first_zero) << first << ".." << last;
  }
}

TEST(BitmapTest, BitfieldsAtUnalignedOffsetsRoundTrip) {
  std::mt19937_64 rng(9);
  for (int round = 0; round < 2000; ++round) {
    std::string s(20, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::string before = s;
    const int width = 1 + static_cast<int>(rng() % 64);
    const uint64_t offset = rng() % (s.size() * 8 - width + 1);
    const uint64_t value = rng() & (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1);
    SetBitfield(s, offset, width, value);
    ASSERT_EQ(GetBitfield(s, offset, width), value);
    for (uint64_t i = 0; i < s.size() * 8; ++i) {
      if (i < offset || i >= offset + width) {
        ASSERT_EQ(ModelBit(s, i), ModelBit(before, i)) << "bit " << i << " changed";
      }
    }
  }
  const std::string s("\xF0", 1);
  EXPECT_EQ(GetSignedBitfield(s, 0, 4), -1);
  EXPECT_EQ(GetSignedBitfield(s, 2, 4), -4);   // 1100
  EXPECT_EQ(GetBitfield(s, 4, 8), 0u);         // past the end is zero
}

TEST(BitmapTest, SignedOverflowWrapsSaturatesOrFails) {
  int64_t out = 0;
  EXPECT_FALSE(AddToSignedField(100, 27, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, 127);
  EXPECT_TRUE(AddToSignedField(127, 1, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, -128);
  EXPECT_TRUE(AddToSignedField(127, 1, 8, Overflow::kSat, &out));
  EXPECT_EQ(out, 127);
  EXPECT_TRUE(AddToSignedField(-128, -1, 8, Overflow::kSat, &out));
  EXPECT_EQ(out, -128);
  out = 42;
  EXPECT_TRUE(AddToSignedField(-128, -1, 8, Overflow::kFail, &out));
  EXPECT_EQ(out, 42);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(AddToSignedField(kMax, 1, 64, Overflow::kWrap, &out));
  EXPECT_EQ(out, std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(AddToSignedField(kMax, kMax, 64, Overflow::kSat, &out));
  EXPECT_EQ(out, kMax);
  // SET checks the value alone: 200 in an i8 wraps to -56.
  EXPECT_TRUE(AddToSignedField(200, 0, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, -56);
}

TEST(BitmapTest, UnsignedOverflowWrapsSaturatesOrFails) {
  uint64_t out = 0;
  EXPECT_FALSE(AddToUnsignedField(250, 5, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, 255u);
  EXPECT_TRUE(AddToUnsignedField(255, 1, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, 0u);
  EXPECT_TRUE(AddToUnsignedField(3, -4, 8, Overflow::kWrap, &out));
  EXPECT_EQ(out, 255u);
  EXPECT_TRUE(AddToUnsignedField(3, -4, 8, Overflow::kSat, &out));
  EXPECT_EQ(out, 0u);
  EXPECT_TRUE(AddToUnsignedField(uint64_t(-1), 0, 8, Overflow::kWrap, &out));  // SET u8 -1
  EXPECT_EQ(out, 255u);
  EXPECT_TRUE(AddToUnsignedField(1, std::numeric_limits<int64_t>::max(), 63, Overflow::kSat, &out));
  EXPECT_EQ(out, (uint64_t{1} << 63) - 1);
}

}  // namespace
}  // namespace strata::storage
