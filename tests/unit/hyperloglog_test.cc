// Unit tests of storage/hyperloglog: the bytes and counts Redis 7.0.15 produces for the same
// commands (every expected value below was read back from a real redis-server with GET/PFCOUNT),
// sparse -> dense promotion at hll-sparse-max-bytes, the cached count, unions and PFMERGE, and the
// refusal of strings that are not HLLs or whose sparse body is corrupt.
#include <string>
#include <string_view>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/hyperloglog.h"

namespace strata::storage {
namespace {

constexpr size_t kDenseSize = 12304;
constexpr size_t kMaxBytes = kHllDefaultSparseMaxBytes;

std::string FromHex(std::string_view hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return bytes;
}
std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}
bool IsSparse(const std::string& hll) { return hll[4] == 1; }

// PFADD key elements... as the command does it: a missing key is created, and its creation alone
// makes the answer 1 and the cached count stale.
bool PfAdd(std::string* hll, std::initializer_list<std::string_view> elements, size_t max_bytes = kMaxBytes) {
  bool changed = false;
  if (hll->empty()) {
    *hll = NewHll();
    HllInvalidateCache(hll);
    changed = true;
  }
  for (std::string_view element : elements) {
    absl::StatusOr<bool> added = HllAdd(hll, element, max_bytes);
    EXPECT_TRUE(added.ok()) << added.status();
    changed |= added.value_or(false);
  }
  return changed;
}

std::string NumbersHll(int count, size_t max_bytes = kMaxBytes) {
  std::string hll = NewHll();
  for (int i = 0; i < count; ++i) EXPECT_TRUE(HllAdd(&hll, std::to_string(i), max_bytes).ok());
  return hll;
}

uint64_t Count(std::string hll) {
  absl::StatusOr<uint64_t> count = HllCount(&hll);
  EXPECT_TRUE(count.ok()) << count.status();
  return count.value_or(0);
}

TEST(HyperLogLog, NewHllIsOneXZeroWithAFreshZeroCount) {
  EXPECT_EQ(ToHex(NewHll()), "48594c4c01000000" "0000000000000000" "7fff");
  EXPECT_TRUE(IsValidHll(NewHll()));
  EXPECT_EQ(Count(NewHll()), 0u);
}

TEST(HyperLogLog, PfAddWithoutElementsStillCreatesAStaleKey) {
  std::string hll;
  EXPECT_TRUE(PfAdd(&hll, {}));
  EXPECT_EQ(ToHex(hll), "48594c4c01000000" "0000000000000080" "7fff");
}

TEST(HyperLogLog, SmallSetsMatchRedisByteForByte) {
  std::string hll;
  EXPECT_TRUE(PfAdd(&hll, {"a", "b", "c"}));
  EXPECT_EQ(ToHex(hll), "48594c4c01000000" "0000000000000080" "60f38050b1844bfb80425a");
  std::string binary;
  PfAdd(&binary, {"", std::string_view("\x00\xff", 2), std::string(100, 'a')});
  EXPECT_EQ(ToHex(binary), "48594c4c01000000" "0000000000000080" "48b88446a68047cf8468cc");
}

TEST(HyperLogLog, ReAddingKnownElementsChangesNothing) {
  std::string hll;
  PfAdd(&hll, {"a", "b", "c"});
  const std::string before = hll;
  EXPECT_FALSE(PfAdd(&hll, {"c", "a", "b"}));
  EXPECT_EQ(hll, before);
}

TEST(HyperLogLog, CountIsWrittenBackAndReusedUntilTheNextChange) {
  std::string hll;
  PfAdd(&hll, {"a", "b", "c"});
  bool written = false;
  EXPECT_EQ(HllCount(&hll, &written).value(), 3u);
  EXPECT_TRUE(written);
  EXPECT_EQ(ToHex(hll.substr(8, 8)), "0300000000000000");
  EXPECT_EQ(HllCount(&hll, &written).value(), 3u);
  EXPECT_FALSE(written);

  // A fresh cached count is answered as is, without reading the registers (as Redis does).
  hll[8] = 42;
  EXPECT_EQ(HllCount(&hll).value(), 42u);
  PfAdd(&hll, {"d"});
  EXPECT_EQ(static_cast<uint8_t>(hll[15]), 0x80);  // stale again
  EXPECT_EQ(HllCount(&hll).value(), 4u);
}

TEST(HyperLogLog, CountsMatchRedis) {
  // PFADD k 0 1 ... n-1; PFCOUNT k on Redis 7.0.15: n -> count, encoding, length.
  struct Case {
    int n;
    uint64_t count;
    bool sparse;
    size_t length;
  };
  for (const Case& c : {Case{10, 10, true, 48}, Case{100, 100, true, 287}, Case{1000, 1001, true, 1923},
                        Case{10000, 9987, false, kDenseSize}, Case{100000, 99565, false, kDenseSize}}) {
    const std::string hll = NumbersHll(c.n);
    EXPECT_EQ(Count(hll), c.count) << c.n;
    EXPECT_EQ(IsSparse(hll), c.sparse) << c.n;
    EXPECT_EQ(hll.size(), c.length) << c.n;
  }
}

TEST(HyperLogLog, PromotesToDenseWhenAnUpdateWouldPassSparseMaxBytes) {
  // Redis: adding "e0", "e1", ... one at a time, element 1683 is the first that does not fit in
  // 3000 bytes (the value is exactly 3000 bytes just before).
  std::string hll = NewHll();
  for (int i = 0; i < 1683; ++i) ASSERT_TRUE(HllAdd(&hll, "e" + std::to_string(i), kMaxBytes).ok());
  EXPECT_TRUE(IsSparse(hll));
  EXPECT_EQ(hll.size(), 3000u);
  EXPECT_TRUE(HllAdd(&hll, "e1683", kMaxBytes).value());
  EXPECT_FALSE(IsSparse(hll));
  EXPECT_EQ(hll.size(), kDenseSize);

  // A smaller limit promotes sooner; 0 makes every HLL dense at its first change.
  std::string small = NumbersHll(100, 200);
  EXPECT_FALSE(IsSparse(small));
  std::string always_dense = NewHll();
  EXPECT_TRUE(HllAdd(&always_dense, "x", 0).value());
  EXPECT_FALSE(IsSparse(always_dense));
}

TEST(HyperLogLog, SparseAndDenseHoldTheSameRegisters) {
  const std::string sparse = NumbersHll(1000);
  const std::string dense = NumbersHll(1000, 0);
  ASSERT_TRUE(IsSparse(sparse));
  ASSERT_FALSE(IsSparse(dense));
  HllUnion from_sparse, from_dense;
  ASSERT_TRUE(from_sparse.Add(sparse).ok());
  ASSERT_TRUE(from_dense.Add(dense).ok());
  EXPECT_EQ(from_sparse.registers(), from_dense.registers());
  EXPECT_EQ(Count(sparse), Count(dense));
}

TEST(HyperLogLog, PromotionKeepsTheHeader) {
  // Redis copies the header whole when it goes dense: unused bytes and cached count survive.
  std::string hll;
  PfAdd(&hll, {"x"});
  hll.replace(5, 11, FromHex("0a0b0c" "0100000000000000"));
  ASSERT_EQ(Count(hll), 1u);
  HllUnion all;
  ASSERT_TRUE(all.Add(hll).ok());
  ASSERT_TRUE(all.Add(NumbersHll(5000)).ok());
  ASSERT_TRUE(all.StoreInto(&hll, kMaxBytes).ok());
  EXPECT_EQ(hll.size(), kDenseSize);
  EXPECT_EQ(ToHex(hll.substr(0, 16)), "48594c4c000a0b0c" "0100000000000080");  // as Redis's PFMERGE
}

TEST(HyperLogLog, UnionCountsTheUnion) {
  std::string evens = NewHll(), odds = NewHll(), all = NewHll();
  for (int i = 0; i < 20000; ++i) {
    std::string element = std::to_string(i);
    ASSERT_TRUE(HllAdd(i % 2 == 0 ? &evens : &odds, element, kMaxBytes).ok());
    ASSERT_TRUE(HllAdd(&all, element, kMaxBytes).ok());
  }
  HllUnion both;
  ASSERT_TRUE(both.Add(evens).ok());
  ASSERT_TRUE(both.Add(odds).ok());
  EXPECT_EQ(both.Count(), Count(all));
  EXPECT_EQ(HllUnion().Count(), 0u);
}

TEST(HyperLogLog, MergeOfSparseValuesStaysSparseAsInRedis) {
  std::string a, b;
  PfAdd(&a, {"x", "y", "z"});
  PfAdd(&b, {"1", "2", "3"});
  HllUnion sources;
  ASSERT_TRUE(sources.Add(a).ok());
  ASSERT_TRUE(sources.Add(b).ok());
  std::string dest = NewHll();  // PFMERGE d a b, d missing
  ASSERT_TRUE(sources.StoreInto(&dest, kMaxBytes).ok());
  EXPECT_EQ(ToHex(dest), "48594c4c01000000" "0000000000000080" "5d6680441c804956804f758841b58c43e98408");
  EXPECT_EQ(Count(dest), 6u);
}

TEST(HyperLogLog, MergeIntoDenseKeepsItsCountBitsButMarksThemStale) {
  std::string m = NumbersHll(5000);
  ASSERT_EQ(HllCount(&m).value(), 4985u);  // cached: 79 13 00 .. 00
  m.replace(5, 3, FromHex("010203"));
  std::string a;
  PfAdd(&a, {"x", "y", "z"});
  HllUnion sources;
  ASSERT_TRUE(sources.Add(m).ok());  // PFMERGE m a: the destination is a source too
  ASSERT_TRUE(sources.Add(a).ok());
  ASSERT_TRUE(sources.StoreInto(&m, kMaxBytes).ok());
  EXPECT_EQ(ToHex(m.substr(0, 16)), "48594c4c00010203" "7913000000000080");
}

TEST(HyperLogLog, StringsThatAreNotHllsAreWrongType) {
  const std::string dense_short = "HYLL" + std::string(1, '\0') + std::string(kDenseSize - 6, '\0');
  for (const std::string& bad : {std::string(), std::string("HYLL"), std::string("hello world, not an hll"),
                                 "HYLX" + NewHll().substr(4), "HYLL\x02" + NewHll().substr(5), dense_short}) {
    EXPECT_FALSE(IsValidHll(bad)) << ToHex(bad);
    std::string value = bad;
    EXPECT_EQ(HllAdd(&value, "a", kMaxBytes).status(), HllWrongTypeError());
    EXPECT_EQ(HllCount(&value).status(), HllWrongTypeError());
    HllUnion all;
    EXPECT_EQ(all.Add(value).message(), "WRONGTYPE Key is not a valid HyperLogLog string value.");
    EXPECT_EQ(value, bad);
  }
  // The header is all that is checked up front: unused bytes may hold anything.
  EXPECT_TRUE(IsValidHll("HYLL\x01\xff\xff\xff" + std::string(8, '\0') + "\x7f\xff"));
}

TEST(HyperLogLog, CorruptSparseBodiesAreRefusedWhenRead) {
  const std::string stale_header = FromHex("48594c4c01000000" "0000000000000080");
  // Runs adding up to 16383, to 16385, nothing at all, and registers past the end.
  for (std::string_view body : {"7ffe", "7fff00", "", "7fff80"}) {
    std::string hll = stale_header + FromHex(body);
    const std::string before = hll;
    EXPECT_EQ(HllCount(&hll).status(), HllCorruptError()) << body;
    HllUnion all;
    ASSERT_TRUE(all.Add(NumbersHll(10)).ok());
    const auto registers = all.registers();
    EXPECT_EQ(all.Add(hll).message(), "INVALIDOBJ Corrupted HLL object detected") << body;
    EXPECT_EQ(all.registers(), registers) << "a failed Add leaves the union alone";
    EXPECT_EQ(hll, before);
  }
  // An add whose register lies past the opcodes fails; one that finds its register succeeds, as
  // in Redis (the value stays corrupt and still fails to count).
  std::string empty_body = stale_header;
  EXPECT_EQ(HllAdd(&empty_body, "a", kMaxBytes).status(), HllCorruptError());
  std::string short_body = stale_header + FromHex("7ffe");  // registers 0..16382
  EXPECT_TRUE(HllAdd(&short_body, "a", kMaxBytes).value());  // "a" is register 12711, rank 2
  EXPECT_EQ(ToHex(short_body.substr(16)), "71a6844e56");      // Redis: XZERO 12711, VAL 2, XZERO 3671
  EXPECT_EQ(HllCount(&short_body).status(), HllCorruptError());
  // Promotion reads the whole body, so a corrupt value cannot be promoted.
  std::string tight = stale_header + FromHex("7ffe");
  EXPECT_EQ(HllAdd(&tight, "a", 0).status(), HllCorruptError());
  // A fresh cached count is trusted without reading the body, as Redis does.
  std::string cached = FromHex("48594c4c01000000" "0700000000000000" "7ffe");
  EXPECT_EQ(HllCount(&cached).value(), 7u);
}

TEST(HyperLogLog, AFinalXZeroMissingItsSecondByteReadsItAsZero) {
  // Redis reads its string's terminating NUL there: XZERO 16383 + "40" (XZERO 1) is a valid,
  // empty HLL; "7f" alone covers 16129 registers and is corrupt.
  std::string valid = FromHex("48594c4c01000000" "0000000000000080" "7ffe40");
  EXPECT_EQ(HllCount(&valid).value(), 0u);
  std::string corrupt = FromHex("48594c4c01000000" "0000000000000080" "7f");
  EXPECT_EQ(HllCount(&corrupt).status(), HllCorruptError());
}

TEST(HyperLogLog, RegistersBeyondTheLargestRankCountAs2To63LikeRedis) {
  // Only a crafted dense value can hold registers above 51. Redis's estimate then overflows its
  // long long rounding and answers -9223372036854775808: the bits of 2^63.
  std::string dense = FromHex("48594c4c00000000" "0000000000000080") + std::string(kDenseSize - 16, '\xff');
  bool written = false;
  EXPECT_EQ(HllCount(&dense, &written).value(), uint64_t{1} << 63);
  EXPECT_TRUE(written);
  EXPECT_EQ(static_cast<uint8_t>(dense[15]), 0x80);  // so the written count reads as stale
}

}  // namespace
}  // namespace strata::storage
