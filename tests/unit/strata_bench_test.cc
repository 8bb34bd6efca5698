// Unit tests of strata-bench's building blocks: histogram, key distributions, request
// schedule and encoding (pub/sub stamps included), reply reader, options, and the reports.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_report.h"
#include "bench/strata_bench/bench_stats.h"
#include "absl/strings/numbers.h"
#include "loaders/json.h"
#include "bench/strata_bench/key_generator.h"
#include "bench/strata_bench/latency_histogram.h"
#include "bench/strata_bench/latency_plot.h"
#include "bench/strata_bench/reply_reader.h"
#include "bench/strata_bench/workload.h"

namespace strata_bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// LatencyHistogram

// |reported - exact| <= exact * kMaxRelativeError (values below 256 are exact).
void ExpectWithinRelativeError(uint64_t reported, uint64_t exact) {
  const double bound = static_cast<double>(exact) * LatencyHistogram::kMaxRelativeError;
  EXPECT_LE(std::fabs(static_cast<double>(reported) - static_cast<double>(exact)), bound)
      << "reported " << reported << " for " << exact;
}

TEST(LatencyHistogram, ValuesBelow256MicrosAreExact) {
  for (uint64_t v = 0; v < LatencyHistogram::kExactBelowMicros; ++v) {
    LatencyHistogram h;
    h.Record(v);
    EXPECT_EQ(h.ValueAtPercentile(50), v);
    EXPECT_EQ(LatencyHistogram::BucketLowest(LatencyHistogram::BucketIndex(v)), v);
  }
}

TEST(LatencyHistogram, EveryBucketIsNarrowerThanTheRelativeErrorBound) {
  for (size_t i = 0; i < LatencyHistogram::BucketCount(); ++i) {
    const uint64_t lowest = LatencyHistogram::BucketLowest(i);
    const uint64_t highest = LatencyHistogram::BucketHighest(i);
    ASSERT_LE(lowest, highest);
    EXPECT_LE(static_cast<double>(highest - lowest), lowest * LatencyHistogram::kMaxRelativeError) << i;
    EXPECT_EQ(LatencyHistogram::BucketIndex(lowest), i);
    EXPECT_EQ(LatencyHistogram::BucketIndex(highest), i);
    if (i + 1 < LatencyHistogram::BucketCount()) {
      EXPECT_EQ(LatencyHistogram::BucketLowest(i + 1), highest + 1) << "buckets must tile the range";
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::kMaxTrackableMicros),
            LatencyHistogram::BucketCount() - 1);
}

TEST(LatencyHistogram, WorkedExamplesFromTheHeader) {
  EXPECT_EQ(LatencyHistogram::BucketLowest(LatencyHistogram::BucketIndex(1000)), 1000u);
  EXPECT_EQ(LatencyHistogram::BucketHighest(LatencyHistogram::BucketIndex(1000)), 1003u);
  EXPECT_EQ(LatencyHistogram::BucketLowest(LatencyHistogram::BucketIndex(100000)), 99840u);
  EXPECT_EQ(LatencyHistogram::BucketHighest(LatencyHistogram::BucketIndex(100000)), 100351u);
}

TEST(LatencyHistogram, PercentilesOfOneToTenThousandAreKnownWithinTheError) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 10000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 10000u);
  EXPECT_DOUBLE_EQ(h.mean(), 5000.5);
  ExpectWithinRelativeError(h.ValueAtPercentile(50), 5000);
  ExpectWithinRelativeError(h.ValueAtPercentile(90), 9000);
  ExpectWithinRelativeError(h.ValueAtPercentile(99), 9900);
  ExpectWithinRelativeError(h.ValueAtPercentile(99.9), 9990);
  EXPECT_EQ(h.ValueAtPercentile(100), 10000u);
  EXPECT_EQ(h.ValueAtPercentile(0), 1u);
}

TEST(LatencyHistogram, PercentileIsTheRankedSampleNotItsNeighbour) {
  // 99 fast requests and one slow one: p99 is fast, p99.5 and the max are slow.
  LatencyHistogram h;
  for (int i = 0; i < 99; ++i) h.Record(100);
  h.Record(50000);
  EXPECT_EQ(h.ValueAtPercentile(99), 100u);
  ExpectWithinRelativeError(h.ValueAtPercentile(99.5), 50000);
  EXPECT_EQ(h.max(), 50000u);
}

TEST(LatencyHistogram, ReportedPercentilesNeverExceedTheMaxOrGoBelowTheMin) {
  LatencyHistogram h;
  h.Record(1001);
  EXPECT_EQ(h.ValueAtPercentile(50), 1001u);  // bucket [1000, 1003] capped at the exact max
}

TEST(LatencyHistogram, MergingTwoEqualsOneHistogramFedBoth) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> fast(5.0, 0.5);
  std::lognormal_distribution<double> slow(9.0, 1.0);
  LatencyHistogram a, b, both;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t x = static_cast<uint64_t>(fast(rng));
    const uint64_t y = static_cast<uint64_t>(slow(rng));
    a.Record(x);
    both.Record(x);
    if (i % 3 == 0) {
      b.Record(y);
      both.Record(y);
    }
  }
  LatencyHistogram merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged.count(), both.count());
  EXPECT_EQ(merged.min(), both.min());
  EXPECT_EQ(merged.max(), both.max());
  EXPECT_DOUBLE_EQ(merged.mean(), both.mean());
  for (double p = 0; p <= 100; p += 0.5) EXPECT_EQ(merged.ValueAtPercentile(p), both.ValueAtPercentile(p)) << p;
  EXPECT_EQ(merged.ValueAtPercentile(99.99), both.ValueAtPercentile(99.99));
}

TEST(LatencyHistogram, EmptyHistogramAnswersZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.ValueAtPercentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_TRUE(h.PercentileDistribution().empty());
  LatencyHistogram other;
  other.Record(5);
  h.Merge(other);
  EXPECT_EQ(h.min(), 5u);
}

TEST(LatencyHistogram, HugeValuesAreClampedNotLost) {
  LatencyHistogram h;
  h.Record(UINT64_MAX);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxTrackableMicros);
}

TEST(LatencyHistogram, PercentileDistributionRisesToTheMax) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v);
  const std::vector<PercentilePoint> points = h.PercentileDistribution();
  ASSERT_GE(points.size(), 40u);  // 0% .. 99.99% at ten points a decade, then the max
  EXPECT_EQ(points.front().percentile, 0.0);
  EXPECT_EQ(points.back().percentile, 100.0);
  EXPECT_EQ(points.back().value_micros, 100000u);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].percentile, points[i - 1].percentile);
    EXPECT_GE(points[i].value_micros, points[i - 1].value_micros);
  }
  // 100000 samples resolve the 99.999th percentile, not the 99.9999th.
  EXPECT_LT(points[points.size() - 2].percentile, 99.9999);
  EXPECT_GE(points[points.size() - 2].percentile, 99.999 - 1e-9);
}

// ---------------------------------------------------------------------------------------------
// Key distributions

std::vector<uint64_t> Frequencies(KeyGenerator* keys, uint64_t key_min, uint64_t key_max, int samples) {
  std::vector<uint64_t> counts(key_max - key_min + 1, 0);
  for (int i = 0; i < samples; ++i) {
    const uint64_t k = keys->Next();
    EXPECT_GE(k, key_min);
    EXPECT_LE(k, key_max);
    if (k >= key_min && k <= key_max) ++counts[k - key_min];
  }
  return counts;
}

// Least-squares slope of log(count) over log(rank) for ranks first..last (1-based).
double LogLogSlope(const std::vector<uint64_t>& counts, size_t first, size_t last) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  double n = 0;
  for (size_t rank = first; rank <= last; ++rank) {
    const double x = std::log(static_cast<double>(rank));
    const double y = std::log(static_cast<double>(counts[rank - 1]));
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    n += 1;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

class ZipfDistribution : public ::testing::TestWithParam<double> {};

TEST_P(ZipfDistribution, FrequencyOfRankFollowsPowerLaw) {
  const double s = GetParam();
  KeyGenerator keys(KeyPattern{KeyPatternKind::kZipf, s}, 1, 10000, /*seed=*/42, 0, 1);
  const std::vector<uint64_t> counts = Frequencies(&keys, 1, 10000, 1000000);
  // Ranks 1..100 all have thousands of samples at these exponents, so noise is small.
  EXPECT_NEAR(LogLogSlope(counts, 1, 100), -s, 0.015);
  // P(1) / P(2) = 2^s.
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], std::pow(2.0, s), 0.05 * std::pow(2.0, s));
  // Rank 1 is the hottest key.
  EXPECT_EQ(std::max_element(counts.begin(), counts.end()) - counts.begin(), 0);
}

TEST_P(ZipfDistribution, MatchesExactProbabilitiesByChiSquare) {
  const double s = GetParam();
  constexpr uint64_t kRanks = 50;
  constexpr int kSamples = 500000;
  ZipfSampler sampler(kRanks, s);
  std::mt19937_64 rng(1234);
  std::vector<uint64_t> counts(kRanks, 0);
  for (int i = 0; i < kSamples; ++i) {
    const uint64_t k = sampler.Sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, kRanks);
    ++counts[k - 1];
  }
  double normalizer = 0;
  for (uint64_t k = 1; k <= kRanks; ++k) normalizer += std::pow(static_cast<double>(k), -s);
  double chi_square = 0;
  for (uint64_t k = 1; k <= kRanks; ++k) {
    const double expected = kSamples * std::pow(static_cast<double>(k), -s) / normalizer;
    chi_square += (counts[k - 1] - expected) * (counts[k - 1] - expected) / expected;
  }
  // 49 degrees of freedom: the 99.9th percentile of chi-square is 85.4.
  EXPECT_LT(chi_square, 85.4) << "exponent " << s;
}

// Below 1, near 1 (where the textbook formula divides by almost zero), exactly 1, above 1.
INSTANTIATE_TEST_SUITE_P(Exponents, ZipfDistribution, ::testing::Values(0.5, 0.99, 1.0, 1.2),
                         [](const ::testing::TestParamInfo<double>& info) {
                           std::string name = absl::StrCat("S", info.param);
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(ZipfSampler, StaysInRangeForOneKeyAndForHugeRanges) {
  std::mt19937_64 rng(3);
  ZipfSampler one(1, 0.99);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(one.Sample(rng), 1u);
  ZipfSampler huge(uint64_t{1} << 40, 0.7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t k = huge.Sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, uint64_t{1} << 40);
  }
}

TEST(GaussianKeys, CenteredInTheRangeWithSdOfASixthOfIt) {
  constexpr uint64_t kMin = 1000, kMax = 61000;  // range 60000: mean 31000, sd 10000
  KeyGenerator keys(KeyPattern{KeyPatternKind::kGaussian, 0}, kMin, kMax, 9, 0, 1);
  constexpr int kSamples = 1000000;
  double sum = 0, sum_sq = 0;
  int within_one_sd = 0;
  for (int i = 0; i < kSamples; ++i) {
    const uint64_t k = keys.Next();
    ASSERT_GE(k, kMin);
    ASSERT_LE(k, kMax);
    const double x = static_cast<double>(k);
    sum += x;
    sum_sq += x * x;
    if (std::fabs(x - 31000.0) <= 10000.0) ++within_one_sd;
  }
  const double mean = sum / kSamples;
  const double sd = std::sqrt(sum_sq / kSamples - mean * mean);
  EXPECT_NEAR(mean, 31000.0, 100.0);
  // Clamping the 0.27% beyond 3 sd shrinks the sd a little.
  EXPECT_NEAR(sd, 10000.0, 200.0);
  EXPECT_NEAR(static_cast<double>(within_one_sd) / kSamples, 0.6827, 0.01);
}

TEST(UniformKeys, EveryKeyIsDrawnAboutEquallyOften) {
  KeyGenerator keys(KeyPattern{KeyPatternKind::kUniform, 0}, 5000, 5999, 11, 0, 1);
  const std::vector<uint64_t> counts = Frequencies(&keys, 5000, 5999, 1000000);
  // Expected 1000 per key, sd about 31.6: six sd either way.
  for (uint64_t c : counts) {
    EXPECT_GT(c, 810u);
    EXPECT_LT(c, 1190u);
  }
}

TEST(SequentialKeys, OneClientWalksTheRangeInOrderAndWraps) {
  KeyGenerator keys(KeyPattern{KeyPatternKind::kSequential, 0}, 10, 14, 1, 0, 1);
  std::vector<uint64_t> seen;
  for (int i = 0; i < 12; ++i) seen.push_back(keys.Next());
  EXPECT_EQ(seen, (std::vector<uint64_t>{10, 11, 12, 13, 14, 10, 11, 12, 13, 14, 10, 11}));
}

TEST(SequentialKeys, ClientsTogetherCoverTheRangeExactlyOnce) {
  constexpr uint64_t kClients = 7, kRange = 100, kTotal = 100;
  std::multiset<uint64_t> seen;
  for (uint64_t c = 0; c < kClients; ++c) {
    KeyGenerator keys(KeyPattern{KeyPatternKind::kSequential, 0}, 0, kRange - 1, 1, c, kClients);
    const uint64_t budget = ClientRequestBudget(kTotal, c, kClients);
    for (uint64_t i = 0; i < budget; ++i) {
      const uint64_t k = keys.Next();
      EXPECT_EQ(k, c + i * kClients) << "client " << c;
      seen.insert(k);
    }
  }
  ASSERT_EQ(seen.size(), kTotal);
  for (uint64_t k = 0; k < kRange; ++k) EXPECT_EQ(seen.count(k), 1u) << k;
}

TEST(ScanKeys, ClientsTogetherAskEveryIndexFromTheStartOnceAndNeverWrap) {
  constexpr uint64_t kStart = 100000, kClients = 7, kPerClient = 1000;
  std::set<uint64_t> seen;
  for (uint64_t c = 0; c < kClients; ++c) {
    ScanKeys keys(kStart, c, kClients);
    for (uint64_t i = 0; i < kPerClient; ++i) {
      const uint64_t k = keys.Next();
      EXPECT_EQ(k, kStart + c + i * kClients) << "client " << c;
      EXPECT_TRUE(seen.insert(k).second) << k << " asked twice";
    }
  }
  EXPECT_EQ(*seen.begin(), kStart);
  EXPECT_EQ(*seen.rbegin(), kStart + kClients * kPerClient - 1);
}

TEST(KeyGenerator, SameSeedAndClientGiveTheSameSequence) {
  const KeyPattern zipf{KeyPatternKind::kZipf, 0.99};
  KeyGenerator a(zipf, 0, 99999, 5, 3, 10), b(zipf, 0, 99999, 5, 3, 10), other_client(zipf, 0, 99999, 5, 4, 10);
  std::vector<uint64_t> sa, sb, so;
  for (int i = 0; i < 1000; ++i) {
    sa.push_back(a.Next());
    sb.push_back(b.Next());
    so.push_back(other_client.Next());
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, so);
}

TEST(KeyPattern, ParsesTheFourPatternsAndRefusesTheRest) {
  EXPECT_EQ(ParseKeyPattern("uniform")->kind, KeyPatternKind::kUniform);
  EXPECT_EQ(ParseKeyPattern("sequential")->kind, KeyPatternKind::kSequential);
  EXPECT_EQ(ParseKeyPattern("gaussian")->kind, KeyPatternKind::kGaussian);
  absl::StatusOr<KeyPattern> zipf = ParseKeyPattern("zipf:0.99");
  ASSERT_TRUE(zipf.ok());
  EXPECT_EQ(zipf->kind, KeyPatternKind::kZipf);
  EXPECT_DOUBLE_EQ(zipf->zipf_exponent, 0.99);
  EXPECT_EQ(KeyPatternName(*zipf), "zipf:0.99");
  for (const char* bad : {"zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:abc", "random", ""}) {
    EXPECT_FALSE(ParseKeyPattern(bad).ok()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// Workload: ratio, budgets, request bytes

TEST(RatioSchedule, OneToTenGivesExactlyOneSetInEveryEleven) {
  RatioSchedule schedule(1, 10);
  for (int cycle = 0; cycle < 100; ++cycle) {
    int sets = 0;
    for (int i = 0; i < 11; ++i) sets += schedule.Next() == CommandType::kSet;
    EXPECT_EQ(sets, 1) << "cycle " << cycle;
  }
}

TEST(RatioSchedule, SetsAreSpreadEvenlyThroughTheCycle) {
  RatioSchedule one_to_four(1, 4);
  std::string pattern;
  for (int i = 0; i < 10; ++i) pattern += one_to_four.Next() == CommandType::kSet ? 'S' : 'G';
  EXPECT_EQ(pattern, "GGGGSGGGGS");
  RatioSchedule even(2, 2);
  pattern.clear();
  for (int i = 0; i < 8; ++i) pattern += even.Next() == CommandType::kSet ? 'S' : 'G';
  EXPECT_EQ(pattern, "GSGSGSGS");
  RatioSchedule three_to_seven(3, 7);
  int sets = 0;
  for (int i = 0; i < 1000; ++i) sets += three_to_seven.Next() == CommandType::kSet;
  EXPECT_EQ(sets, 300);
}

TEST(RatioSchedule, OneSidedRatiosSendOnlyThatCommand) {
  RatioSchedule only_sets(1, 0), only_gets(0, 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(only_sets.Next(), CommandType::kSet);
    EXPECT_EQ(only_gets.Next(), CommandType::kGet);
  }
}

TEST(ClientRequestBudget, SharesOfTheTotalAddUpAndDifferByAtMostOne) {
  for (uint64_t total : {0, 1, 49, 50, 51, 20000, 1000003}) {
    uint64_t sum = 0;
    for (uint64_t c = 0; c < 50; ++c) {
      const uint64_t share = ClientRequestBudget(total, c, 50);
      EXPECT_TRUE(share == total / 50 || share == total / 50 + 1);
      sum += share;
    }
    EXPECT_EQ(sum, total);
  }
}

TEST(RequestEncoder, WritesSetAndGetAsRespArrays) {
  RequestEncoder encoder("user:", 5);
  std::string out;
  encoder.AppendSet(42, &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$7\r\nuser:42\r\n$5\r\n01234\r\n");
  out.clear();
  encoder.AppendGet(1234567890123, &out);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$18\r\nuser:1234567890123\r\n");
  EXPECT_EQ(encoder.Key(7), "user:7");
  out.clear();
  RequestEncoder::AppendCommand({"HELLO", "3"}, &out);
  EXPECT_EQ(out, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
}

TEST(RequestEncoder, ValueContentIsDeterministicAndSized) {
  RequestEncoder a("k", 100), b("k", 100);
  EXPECT_EQ(a.value().size(), 100u);
  EXPECT_EQ(a.value(), b.value());
}

TEST(PublishStamp, WorkedExampleFromTheHeader) {
  RequestEncoder encoder("k", 48);
  std::string out;
  encoder.AppendPublish("news", {1234567890123, 3, 5}, &out);
  const std::string payload = absl::StrCat("0000001234567890123 0000003 000000000005", encoder.value().substr(40));
  EXPECT_EQ(payload.size(), 48u);
  EXPECT_EQ(out, absl::StrCat("*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$48\r\n", payload, "\r\n"));
  EXPECT_EQ(ParsePublishStamp(payload), (PublishStamp{1234567890123, 3, 5}));
}

TEST(PublishStamp, RoundTripsAtTheFieldLimitsAndTheSmallestSize) {
  // A value shorter than the stamp still carries all of it: the payload is the stamp alone.
  RequestEncoder encoder("k", 1);
  for (const PublishStamp& stamp : {PublishStamp{0, 0, 0}, PublishStamp{INT64_MAX, 9999999, 999999999999},
                                    PublishStamp{42, 2559999, 123456789}}) {
    std::string out;
    encoder.AppendPublish("c", stamp, &out);
    const std::string header = "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$40\r\n";
    ASSERT_EQ(out.substr(0, header.size()), header);
    const std::string payload = out.substr(header.size(), kPublishStampBytes);
    EXPECT_EQ(ParsePublishStamp(payload), stamp);
  }
  // Sequences wrap at kPublishSequenceModulus rather than spill into the filler.
  std::string out;
  encoder.AppendPublish("c", {7, 1, kPublishSequenceModulus + 4}, &out);
  EXPECT_EQ(ParsePublishStamp(out.substr(out.size() - 2 - kPublishStampBytes, kPublishStampBytes)),
            (PublishStamp{7, 1, 4}));
}

TEST(PublishStamp, RefusesPayloadsThatAreNotStamped) {
  for (const char* payload : {"", "hello", "0000001234567890123 0000003 00000000000",  // one digit short
                              "0000001234567890123-0000003 000000000005", "000000123456789012x 0000003 000000000005",
                              "9999999999999999999 0000003 000000000005"}) {  // above INT64_MAX
    EXPECT_FALSE(ParsePublishStamp(payload).has_value()) << payload;
  }
}

TEST(ScanSchedule, SpreadsExactlyThePercentageOverEveryHundredGets) {
  for (uint32_t percent : {0u, 1u, 10u, 33u, 50u, 99u, 100u}) {
    ScanSchedule schedule(percent);
    for (int cycle = 0; cycle < 3; ++cycle) {
      uint32_t scans = 0;
      for (int i = 0; i < 100; ++i) scans += schedule.NextIsScan() ? 1 : 0;
      EXPECT_EQ(scans, percent) << "cycle " << cycle;
    }
  }
  // 10%: every tenth GET, not ten in a row.
  ScanSchedule tenth(10);
  std::vector<int> positions;
  for (int i = 0; i < 40; ++i) {
    if (tenth.NextIsScan()) positions.push_back(i);
  }
  EXPECT_EQ(positions, (std::vector<int>{9, 19, 29, 39}));
}

// ---------------------------------------------------------------------------------------------
// ReplyReader

struct Summary {
  ReplyKind kind;
  std::string text;
  int64_t integer;
  bool operator==(const Summary&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Summary& s) {
  return os << "{kind " << static_cast<int>(s.kind) << ", '" << s.text << "', " << s.integer << "}";
}

// Reads every reply out of `chunks` fed one after another; fails the test on a parse error.
std::vector<Summary> ReadAll(const std::vector<std::string>& chunks) {
  ReplyReader reader;
  std::vector<Summary> out;
  for (const std::string& chunk : chunks) {
    reader.Append(chunk);
    ReplySummary reply;
    ReadState state;
    while ((state = reader.Next(&reply)) == ReadState::kReply) {
      out.push_back({reply.kind, std::string(reply.text), reply.integer});
    }
    EXPECT_EQ(state, ReadState::kNeedMore) << reader.error();
  }
  EXPECT_EQ(reader.buffered(), 0u);
  return out;
}

// Every reply type a RESP2 or RESP3 server sends, including a HELLO 3 style map with nested
// aggregates, an attribute, a push and big bulk payloads.
constexpr char kAllReplyTypes[] =
      "+OK\r\n"
      "-ERR unknown command\r\n"
      ":-42\r\n"
      "$5\r\nhello\r\n"
      "$0\r\n\r\n"
      "$-1\r\n"
      "*-1\r\n"
      "*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n_\r\n"
      "_\r\n"
      ",3.14\r\n"
      "#t\r\n"
      "#f\r\n"
      "(3492890328409238509324850943850943825024385\r\n"
      "!21\r\nSYNTAX invalid syntax\r\n"
      "=15\r\ntxt:Some string\r\n"
      "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"
      "$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
      "$7\r\nmodules\r\n*0\r\n"
      "~2\r\n+x\r\n+y\r\n"
      ">3\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n_\r\n"
      "|1\r\n+ttl\r\n:3600\r\n$3\r\nbar\r\n"
      "*2\r\n|1\r\n+a\r\n+b\r\n:7\r\n:8\r\n";

std::vector<Summary> ExpectedReplies() {
  return {
      {ReplyKind::kSimpleString, "OK", 0},
      {ReplyKind::kError, "ERR unknown command", 0},
      {ReplyKind::kInteger, "", -42},
      {ReplyKind::kBulkString, "hello", 0},
      {ReplyKind::kBulkString, "", 0},
      {ReplyKind::kNull, "", 0},
      {ReplyKind::kNull, "", -1},
      {ReplyKind::kArray, "", 3},
      {ReplyKind::kNull, "", 0},
      {ReplyKind::kDouble, "3.14", 0},
      {ReplyKind::kBoolean, "", 1},
      {ReplyKind::kBoolean, "", 0},
      {ReplyKind::kBigNumber, "3492890328409238509324850943850943825024385", 0},
      {ReplyKind::kError, "SYNTAX invalid syntax", 0},
      {ReplyKind::kBulkString, "txt:Some string", 0},
      {ReplyKind::kMap, "", 7},
      {ReplyKind::kArray, "", 2},
      {ReplyKind::kPush, "", 3},
      {ReplyKind::kBulkString, "bar", 0},  // the attribute before it is skipped
      {ReplyKind::kArray, "", 2},
  };
}

TEST(ReplyReader, ReadsEveryRespTypeFromOneBuffer) {
  EXPECT_EQ(ReadAll({kAllReplyTypes}), ExpectedReplies());
}

TEST(ReplyReader, GivesTheSameRepliesWhateverTheSplitPoint) {
  const std::string stream = kAllReplyTypes;
  const std::vector<Summary> expected = ExpectedReplies();
  for (size_t split = 0; split <= stream.size(); ++split) {
    EXPECT_EQ(ReadAll({stream.substr(0, split), stream.substr(split)}), expected) << "split at " << split;
  }
}

TEST(ReplyReader, GivesTheSameRepliesFedOneByteAtATime) {
  const std::string stream = kAllReplyTypes;
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(ReadAll(bytes), ExpectedReplies());
}

TEST(ReplyReader, TellsIncompleteFromInvalid) {
  ReplyReader reader;
  ReplySummary reply;
  reader.Append("$5\r\nhel");
  EXPECT_EQ(reader.Next(&reply), ReadState::kNeedMore);
  reader.Append("lo\r\n");
  ASSERT_EQ(reader.Next(&reply), ReadState::kReply);
  EXPECT_EQ(reply.text, "hello");

  for (const char* invalid : {"?what\r\n", ":12x\r\n", "$abc\r\n", "$3\r\nabcd\r\n", "*-2\r\n", "#x\r\n",
                              "+OK\rX", "_x\r\n", "%-1\r\n"}) {
    ReplyReader bad;
    bad.Append(invalid);
    EXPECT_EQ(bad.Next(&reply), ReadState::kError) << invalid;
    EXPECT_FALSE(bad.error().ok());
    bad.Append("+OK\r\n");
    EXPECT_EQ(bad.Next(&reply), ReadState::kError) << "errors are sticky";
  }
}

TEST(ReplyReader, ReadsALargeBulkStringArrivingInManyReads) {
  const std::string payload(1 << 20, 'v');
  const std::string stream = absl::StrCat("$", payload.size(), "\r\n", payload, "\r\n+OK\r\n");
  ReplyReader reader;
  ReplySummary reply;
  size_t offset = 0;
  std::vector<ReplyKind> kinds;
  while (offset < stream.size()) {
    const size_t n = std::min<size_t>(4000, stream.size() - offset);
    char* tail = reader.WritableTail(n);
    std::copy_n(stream.data() + offset, n, tail);
    reader.Commit(n);
    offset += n;
    while (reader.Next(&reply) == ReadState::kReply) {
      kinds.push_back(reply.kind);
      if (reply.kind == ReplyKind::kBulkString) {
        EXPECT_EQ(reply.text.size(), payload.size());
      }
    }
  }
  EXPECT_EQ(kinds, (std::vector<ReplyKind>{ReplyKind::kBulkString, ReplyKind::kSimpleString}));
}

TEST(ReplyReader, ShowsTheElementsOfPubSubMessagesAndConfirmations) {
  // RESP2 arrays and RESP3 pushes, a confirmation's integer as its digits, a null and a nested
  // aggregate as empty, and only the first three elements of a longer array.
  const std::string stream =
      "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
      "*4\r\n$-1\r\n*2\r\n+a\r\n+b\r\n|1\r\n+k\r\n+v\r\n+third\r\n+fourth\r\n"
      "+OK\r\n";
  using Elements = std::vector<std::string>;
  const std::vector<std::pair<ReplyKind, Elements>> expected = {
      {ReplyKind::kArray, {"subscribe", "ch", "1"}},
      {ReplyKind::kPush, {"message", "ch", "hello"}},
      {ReplyKind::kArray, {"", "", "third"}},
      {ReplyKind::kSimpleString, {}},
  };
  for (size_t split = 0; split <= stream.size(); ++split) {
    ReplyReader reader;
    std::vector<std::pair<ReplyKind, Elements>> got;
    ReplySummary reply;
    for (const std::string& chunk : {stream.substr(0, split), stream.substr(split)}) {
      reader.Append(chunk);
      while (reader.Next(&reply) == ReadState::kReply) {
        got.push_back({reply.kind, Elements(reply.elements, reply.elements + reply.element_count)});
      }
    }
    EXPECT_EQ(got, expected) << "split at " << split;
  }
}

TEST(ReplyReader, InvalidationPushesBetweenRepliesAreTheirOwnFramesNamedInvalidate) {
  // What a tracking client reads: a push after a SET's +OK, another (a flush: null keys) between
  // a GET's value and a nil; each push is one frame, and the replies around it are untouched.
  const std::string stream =
      "+OK\r\n"
      ">2\r\n$10\r\ninvalidate\r\n*2\r\n$5\r\nkey:1\r\n$5\r\nkey:2\r\n"
      "$3\r\nabc\r\n"
      ">2\r\n$10\r\ninvalidate\r\n_\r\n"
      "_\r\n";
  using Elements = std::vector<std::string>;
  const std::vector<std::pair<ReplyKind, Elements>> expected = {
      {ReplyKind::kSimpleString, {}},
      {ReplyKind::kPush, {"invalidate", ""}},
      {ReplyKind::kBulkString, {}},
      {ReplyKind::kPush, {"invalidate", ""}},
      {ReplyKind::kNull, {}},
  };
  for (size_t split = 0; split <= stream.size(); ++split) {
    ReplyReader reader;
    std::vector<std::pair<ReplyKind, Elements>> got;
    ReplySummary reply;
    for (const std::string& chunk : {stream.substr(0, split), stream.substr(split)}) {
      reader.Append(chunk);
      while (reader.Next(&reply) == ReadState::kReply) {
        got.push_back({reply.kind, Elements(reply.elements, reply.elements + reply.element_count)});
      }
    }
    EXPECT_EQ(got, expected) << "split at " << split;
  }
}

// ---------------------------------------------------------------------------------------------
// Options

absl::StatusOr<BenchOptions> Parse(std::vector<std::string> args) { return ParseBenchOptions(args); }

TEST(BenchOptions, DefaultsAreAHundredThousandRequestsFromFiftyClients) {
  absl::StatusOr<BenchOptions> o = Parse({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->total_clients(), 50);
  EXPECT_EQ(o->requests, 100000u);
  EXPECT_FALSE(o->timed());
  EXPECT_EQ(o->ratio_sets, 1u);
  EXPECT_EQ(o->ratio_gets, 10u);
}

TEST(BenchOptions, ReadsEveryOptionInBothSpellings) {
  absl::StatusOr<BenchOptions> o =
      Parse({"--host", "localhost", "--port=7000", "--threads", "2", "--clients=10", "--pipeline", "16",
             "--requests", "20000", "--ratio", "1:4", "--data-size", "100", "--key-prefix", "u:", "--key-min",
             "5", "--key-max=500", "--key-pattern", "zipf:1.2", "--seed", "9", "--resp", "3", "--auth",
             "bob:secret", "--cache-aside", "--scan-share", "10", "--scan-start=1000", "--json", "out.json", "--plot", "p.png", "--compare", "old.json",
             "--label", "run A", "--reply-timeout", "2.5"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "localhost");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->total_clients(), 20);
  EXPECT_EQ(o->pipeline, 16);
  EXPECT_EQ(o->requests, 20000u);
  EXPECT_EQ(o->ratio_sets, 1u);
  EXPECT_EQ(o->ratio_gets, 4u);
  EXPECT_EQ(o->data_size, 100u);
  EXPECT_EQ(o->key_prefix, "u:");
  EXPECT_EQ(o->key_min, 5u);
  EXPECT_EQ(o->key_max, 500u);
  EXPECT_EQ(o->key_pattern.kind, KeyPatternKind::kZipf);
  EXPECT_EQ(o->seed, 9u);
  EXPECT_EQ(o->resp, 3);
  EXPECT_EQ(o->auth, "bob:secret");
  EXPECT_TRUE(o->cache_aside);
  EXPECT_EQ(o->scan_share, 10);
  EXPECT_EQ(o->scan_start, 1000u);
  EXPECT_EQ(o->json_path, "out.json");
  EXPECT_EQ(o->plot_path, "p.png");
  EXPECT_EQ(o->compare_path, "old.json");
  EXPECT_EQ(o->label, "run A");
  EXPECT_DOUBLE_EQ(o->reply_timeout_sec, 2.5);
}

TEST(BenchOptions, RefusesBadInputWithAMessageNamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "unknown option '--bogus'"},
      {{"--port"}, "--port needs a value"},
      {{"--port", "0"}, "--port 0"},
      {{"--port", "70000"}, "--port 70000"},
      {{"--threads", "x"}, "--threads x"},
      {{"--pipeline", "-1"}, "--pipeline -1"},
      {{"--requests", "0"}, "--requests 0"},
      {{"--requests", "10", "--test-time", "5"}, "exclusive"},
      {{"--ratio", "1"}, "--ratio 1"},
      {{"--ratio", "0:0"}, "cannot both be 0"},
      {{"--ratio", "a:b"}, "--ratio a:b"},
      {{"--key-min", "10", "--key-max", "5"}, "--key-min 10 is above --key-max 5"},
      {{"--key-pattern", "pareto"}, "--key-pattern pareto"},
      {{"--resp", "4"}, "--resp 4"},
      {{"--test-time", "-3"}, "--test-time -3"},
      {{"--cache-aside=yes"}, "--cache-aside takes no value"},
      {{"--compare", "a.json"}, "--plot"},
      {{"--cold-storm", "100", "--requests", "5"}, "--cold-storm"},
      {{"--cache-aside", "--scan-share", "101"}, "--scan-share 101"},
      {{"--scan-share", "10"}, "--cache-aside"},
      {{"--cache-aside", "--scan-share", "10", "--cold-storm", "100"}, "--cold-storm"},
      {{"--cache-aside", "--scan-start", "200000"}, "--scan-share"},
      {{"--cache-aside", "--scan-share", "10", "--scan-start", "50"}, "--scan-start 50 is not above --key-max 99999"},
  };
  for (const auto& [args, message] : cases) {
    absl::StatusOr<BenchOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[0];
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(o.status().message()), HasSubstr(message));
  }
}

TEST(BenchOptions, ScanKeysStartJustAboveTheKeyRangeByDefault) {
  absl::StatusOr<BenchOptions> o = Parse({"--cache-aside", "--scan-share", "10", "--key-max", "999999"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->scan_start, 1000000u);
  EXPECT_THAT(DescribeLoad(*o), HasSubstr("10% of GETs scan one-time keys key:[1000000..]"));
  EXPECT_EQ(Parse({})->scan_share, 0);
}

TEST(BenchOptions, PubSubModeSubscribesPublishesAndStampsEveryMessage) {
  absl::StatusOr<BenchOptions> o = Parse({"--pubsub-subscribers", "100", "--pubsub-channel=news"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->pubsub());
  EXPECT_EQ(o->pubsub_subscribers, 100);
  EXPECT_EQ(o->pubsub_channel, "news");
  EXPECT_EQ(o->data_size, kPublishStampBytes);  // the default: the stamp alone
  EXPECT_THAT(DescribeLoad(*o), HasSubstr("PUBLISH to channel 'news' with 100 subscribers, 40-byte messages"));
  EXPECT_EQ(Parse({"--pubsub-subscribers", "1", "--data-size", "64"})->data_size, 64u);
  EXPECT_EQ(Parse({"--pubsub-subscribers", "1"})->pubsub_channel, "strata-bench");
  EXPECT_FALSE(Parse({})->pubsub());
}

TEST(BenchOptions, RefusesPubSubOptionsThatCannotWork) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pubsub-subscribers", "0"}, "--pubsub-subscribers 0"},
      {{"--pubsub-subscribers", "10001"}, "--pubsub-subscribers 10001"},
      {{"--pubsub-channel", "news"}, "--pubsub-subscribers"},
      {{"--pubsub-subscribers", "2", "--pubsub-channel", ""}, "--pubsub-channel ''"},
      {{"--pubsub-subscribers", "2", "--data-size", "39"}, "--data-size 39 is below 40"},
      {{"--pubsub-subscribers", "2", "--cache-aside"}, "--cache-aside"},
      {{"--pubsub-subscribers", "2", "--cold-storm", "10"}, "--cold-storm"},
  };
  for (const auto& [args, message] : cases) {
    absl::StatusOr<BenchOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[0] << " " << args.back();
    EXPECT_THAT(std::string(o.status().message()), HasSubstr(message));
  }
}

TEST(BenchOptions, TrackingImpliesRespThreeAndRefusesWhatCannotCarryPushes) {
  absl::StatusOr<BenchOptions> o = Parse({"--tracking"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->tracking);
  EXPECT_EQ(o->resp, 3);
  EXPECT_THAT(DescribeLoad(*o), HasSubstr("CLIENT TRACKING on, RESP3"));
  EXPECT_EQ(Parse({"--resp", "3", "--tracking"})->resp, 3);
  EXPECT_FALSE(Parse({})->tracking);
  EXPECT_EQ(Parse({})->resp, 2);
  EXPECT_THAT(DescribeLoad(*Parse({})), Not(HasSubstr("TRACKING")));

  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tracking", "--resp", "2"}, "--tracking needs RESP3"},
      {{"--resp=2", "--tracking"}, "--tracking needs RESP3"},
      {{"--tracking", "--pubsub-subscribers", "2"}, "--tracking does not combine with --pubsub-subscribers"},
      {{"--tracking=on"}, "--tracking takes no value"},
  };
  for (const auto& [args, message] : cases) {
    absl::StatusOr<BenchOptions> refused = Parse(args);
    ASSERT_FALSE(refused.ok()) << args[0] << " " << args.back();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(message));
  }
}

TEST(BenchOptions, HelpDocumentsEveryOption) {
  const std::string usage = BenchUsage();
  for (const char* option :
       {"--host", "--port", "--threads", "--clients", "--pipeline", "--requests", "--test-time", "--ratio",
        "--data-size", "--key-prefix", "--key-min", "--key-max", "--key-pattern", "--seed", "--resp", "--auth",
        "--cache-aside", "--scan-share", "--scan-start", "--cold-storm", "--tracking", "--pubsub-subscribers",
        "--pubsub-channel", "--json", "--plot", "--compare", "--label", "--reply-timeout", "--help"}) {
    EXPECT_THAT(usage, HasSubstr(option));
  }
  EXPECT_THAT(usage, HasSubstr("TOTAL number of requests"));
  ASSERT_TRUE(Parse({"--help"}).ok());
  EXPECT_TRUE(Parse({"--help"})->help);
  EXPECT_TRUE(Parse({"-h"})->help);
}

// ---------------------------------------------------------------------------------------------
// Counting rule and reports

RunResult SampleRun() {
  RunResult result;
  result.label = "sample";
  result.duration_sec = 2.0;
  RunStats& s = result.stats;
  for (uint64_t i = 1; i <= 400; ++i) {
    s.set.latency.Record(100 + i);
    ++s.set.requests;
  }
  s.set.errors = 0;
  for (uint64_t i = 1; i <= 1600; ++i) {
    s.get.latency.Record(50 + i % 300);
    ++s.get.requests;
    if (i % 4 == 0) {
      ++s.get.misses;
    } else {
      ++s.get.hits;
    }
  }
  return result;
}

TEST(RunStats, EveryRequestIsASetAHitAMissOrAnError) {
  RunStats s = SampleRun().stats;
  // Error replies are requests too, with a latency, but neither a set nor a hit nor a miss.
  for (int i = 0; i < 3; ++i) {
    ++s.set.requests;
    ++s.set.errors;
    s.set.latency.Record(10);
  }
  for (int i = 0; i < 2; ++i) {
    ++s.get.requests;
    ++s.get.errors;
    s.get.latency.Record(10);
  }
  EXPECT_EQ(s.requests(), s.sets() + s.hits() + s.misses() + s.errors());
  EXPECT_EQ(s.sets(), 400u);
  EXPECT_DOUBLE_EQ(s.hit_ratio(), 0.75);
  RunStats merged = s;
  merged.Merge(s);
  EXPECT_EQ(merged.requests(), 2 * s.requests());
  EXPECT_EQ(merged.Total().latency.count(), 2 * s.requests());
}

// A number in a report read back with the project's JSON reader.
double Number(const strata::loaders::JsonValue* value) {
  double number = -1;
  EXPECT_TRUE(value != nullptr && absl::SimpleAtod(value->text(), &number));
  return number;
}

TEST(BenchReport, JsonReportParsesAndCarriesTheCountsAndDistribution) {
  using strata::loaders::JsonValue;
  const RunResult result = SampleRun();
  BenchOptions options;
  const std::string json = FormatJsonReport(options, result);
  absl::StatusOr<JsonValue> doc = strata::loaders::ParseJson(json);
  ASSERT_TRUE(doc.ok()) << doc.status() << json;
  EXPECT_EQ(Number(doc->Find("requests")), 2000);
  EXPECT_EQ(Number(doc->Find("sets")), 400);
  EXPECT_EQ(Number(doc->Find("hits")), 1200);
  EXPECT_EQ(Number(doc->Find("misses")), 400);
  EXPECT_EQ(Number(doc->Find("errors")), 0);
  EXPECT_DOUBLE_EQ(Number(doc->Find("hit_ratio")), 0.75);
  EXPECT_DOUBLE_EQ(Number(doc->Find("ops_per_sec")), 1000);
  const JsonValue* get = doc->Find("commands")->Find("GET");
  ASSERT_NE(get, nullptr);
  const JsonValue* latency = get->Find("latency_us");
  for (const char* key : {"mean", "min", "p50", "p90", "p99", "p99.9", "max"}) {
    EXPECT_NE(latency->Find(key), nullptr) << key;
  }
  EXPECT_EQ(Number(latency->Find("p50")), result.stats.get.latency.ValueAtPercentile(50));

  // --compare reads back exactly the curves the run itself would plot.
  absl::StatusOr<std::vector<LatencySeries>> read_back = SeriesFromJsonReport(json);
  ASSERT_TRUE(read_back.ok()) << read_back.status();
  const std::vector<LatencySeries> original = SeriesOfRun(result);
  ASSERT_EQ(read_back->size(), original.size());
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_EQ((*read_back)[i].label, original[i].label);
    ASSERT_EQ((*read_back)[i].points.size(), original[i].points.size());
    for (size_t j = 0; j < original[i].points.size(); ++j) {
      EXPECT_NEAR((*read_back)[i].points[j].percentile, original[i].points[j].percentile, 1e-6);
      EXPECT_EQ((*read_back)[i].points[j].value_micros, original[i].points[j].value_micros);
    }
  }
}

TEST(BenchReport, TextReportNamesEveryFigure) {
  const std::string text = FormatTextReport(BenchOptions(), SampleRun());
  for (const char* word : {"Ops/sec", "Hits", "Misses", "p50", "p90", "p99", "p99.9", "Max", "SET", "GET", "TOTAL",
                           "Hit ratio: 75.00%"}) {
    EXPECT_THAT(text, HasSubstr(word));
  }
}

// A pub/sub run: 1000 PUBLISHes (2 of them error replies) to 3 subscribers, which got all but
// 4 of the 2994 deliveries, one of them out of order, and one foreign message.
RunResult SamplePubSubRun(BenchOptions* options) {
  options->pubsub_subscribers = 3;
  options->pubsub_channel = "news";
  RunResult result;
  result.label = "pubsub";
  result.duration_sec = 0.5;
  result.delivery_duration_sec = 0.6;
  RunStats& s = result.stats;
  for (uint64_t i = 0; i < 1000; ++i) {
    ++s.publish.requests;
    s.publish.latency.Record(100 + i % 50);
  }
  s.publish.errors = 2;
  s.publish_receivers = 998 * 3;
  for (uint64_t i = 0; i < 998 * 3 - 4; ++i) {
    ++s.delivery.delivered;
    s.delivery.latency.Record(200 + i % 100);
  }
  s.delivery.out_of_order = 1;
  s.delivery.malformed = 1;
  s.delivery.first_malformed = "[message, news, hello]";
  s.first_error = "ERR something";
  return result;
}

TEST(RunStats, EveryRequestIsASetAHitAMissAPublishOrAnError) {
  BenchOptions options;
  RunStats s = SamplePubSubRun(&options).stats;
  s.Merge(SampleRun().stats);
  EXPECT_EQ(s.requests(), s.sets() + s.hits() + s.misses() + s.publishes() + s.errors());
  EXPECT_EQ(s.publishes(), 998u);
  EXPECT_EQ(s.Total().latency.count(), s.requests());
}

TEST(BenchReport, PubSubDeliveriesAreCheckedAgainstPublishesTimesSubscribers) {
  BenchOptions options;
  const RunResult result = SamplePubSubRun(&options);
  const PubSubTally tally = TallyPubSub(options, result.stats);
  EXPECT_EQ(tally.expected, 2994u);
  EXPECT_EQ(tally.missing, 4u);
  EXPECT_EQ(tally.errors(), 6u);  // 4 missing, 1 out of order, 1 malformed
  EXPECT_FALSE(tally.ok());
  EXPECT_TRUE(TallyPubSub(BenchOptions(), SampleRun().stats).ok());

  const std::string text = FormatTextReport(options, result);
  for (const char* words : {"PUBLISH", "DELIVER", "998 messages published to 'news'",
                            "2990 of 2994 deliveries (998 x 3 subscribers) in 0.600 s: 4 missing, 1 out of order, "
                            "1 malformed; PUBLISH replies counted 2994 receivers; 2 errors",
                            "First malformed message: [message, news, hello]", "First error reply: ERR something"}) {
    EXPECT_THAT(text, HasSubstr(words));
  }
  EXPECT_THAT(text, Not(HasSubstr("Hit ratio")));

  using strata::loaders::JsonValue;
  const std::string json = FormatJsonReport(options, result);
  absl::StatusOr<JsonValue> doc = strata::loaders::ParseJson(json);
  ASSERT_TRUE(doc.ok()) << doc.status() << json;
  EXPECT_EQ(Number(doc->Find("publishes")), 998);
  EXPECT_EQ(Number(doc->Find("config")->Find("pubsub_subscribers")), 3);
  EXPECT_EQ(doc->Find("config")->Find("pubsub_channel")->text(), "news");
  const JsonValue* pubsub = doc->Find("pubsub");
  ASSERT_NE(pubsub, nullptr);
  EXPECT_EQ(Number(pubsub->Find("published")), 998);
  EXPECT_EQ(Number(pubsub->Find("expected_deliveries")), 2994);
  EXPECT_EQ(Number(pubsub->Find("delivered")), 2990);
  EXPECT_EQ(Number(pubsub->Find("missing")), 4);
  EXPECT_EQ(Number(pubsub->Find("out_of_order")), 1);
  EXPECT_EQ(Number(pubsub->Find("malformed")), 1);
  EXPECT_EQ(Number(pubsub->Find("publish_receivers")), 2994);
  EXPECT_NEAR(Number(pubsub->Find("delivered_per_sec")), 2990 / 0.6, 0.01);
  EXPECT_EQ(Number(pubsub->Find("latency_us")->Find("p50")), result.stats.delivery.latency.ValueAtPercentile(50));
  EXPECT_EQ(Number(doc->Find("commands")->Find("PUBLISH")->Find("errors")), 2);

  // The plot draws the delivery curve beside the PUBLISHes', and --compare reads it back.
  absl::StatusOr<std::vector<LatencySeries>> read_back = SeriesFromJsonReport(json);
  ASSERT_TRUE(read_back.ok()) << read_back.status();
  ASSERT_EQ(read_back->size(), 2u);
  EXPECT_EQ((*read_back)[1].label, "pubsub: DELIVER");
  EXPECT_EQ((*read_back)[1].points.size(), SeriesOfRun(result)[1].points.size());
}

TEST(BenchReport, ReportsWithoutPubSubSayNothingOfIt) {
  const std::string json = FormatJsonReport(BenchOptions(), SampleRun());
  absl::StatusOr<strata::loaders::JsonValue> doc = strata::loaders::ParseJson(json);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->Find("pubsub"), nullptr);
  EXPECT_EQ(doc->Find("commands")->Find("PUBLISH"), nullptr);
  EXPECT_EQ(Number(doc->Find("publishes")), 0);
  EXPECT_THAT(FormatTextReport(BenchOptions(), SampleRun()), Not(HasSubstr("DELIVER")));
}

TEST(BenchReport, TrackingRunsCountTheInvalidationPushesApartFromTheRequests) {
  BenchOptions options;
  options.tracking = true;
  options.resp = 3;
  RunResult result = SampleRun();
  result.stats.invalidations = 123;
  result.stats.other_pushes = 1;
  RunStats merged = result.stats;
  merged.Merge(result.stats);
  EXPECT_EQ(merged.invalidations, 246u);
  EXPECT_EQ(merged.other_pushes, 2u);
  EXPECT_EQ(merged.requests(), 2 * result.stats.requests());  // pushes are not requests

  EXPECT_THAT(FormatTextReport(options, result), HasSubstr("Tracking: 123 invalidation pushes received, 1 other pushes"));
  absl::StatusOr<strata::loaders::JsonValue> doc = strata::loaders::ParseJson(FormatJsonReport(options, result));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(Number(doc->Find("invalidations")), 123);
  EXPECT_EQ(Number(doc->Find("other_pushes")), 1);
  EXPECT_EQ(Number(doc->Find("requests")), 2000);
  EXPECT_EQ(doc->Find("config")->Find("tracking")->text(), "true");

  // Without --tracking (and no pushes) the text says nothing of it; the JSON has its zeros.
  EXPECT_THAT(FormatTextReport(BenchOptions(), SampleRun()), Not(HasSubstr("Tracking")));
  doc = strata::loaders::ParseJson(FormatJsonReport(BenchOptions(), SampleRun()));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(Number(doc->Find("invalidations")), 0);
  EXPECT_EQ(doc->Find("config")->Find("tracking")->text(), "false");
}

TEST(BenchReport, CompareRefusesJsonThatIsNotAReport) {
  EXPECT_FALSE(SeriesFromJsonReport("{\"a\": 1}").ok());
  EXPECT_FALSE(SeriesFromJsonReport("not json").ok());
  EXPECT_FALSE(SeriesFromJsonReport("{\"commands\": {\"TOTAL\": {}}}").ok());
}

TEST(BenchReport, ALabelWithQuotesAndControlCharactersSurvivesTheJsonRoundTrip) {
  RunResult result = SampleRun();
  result.label = "tab\there \"q\" back\\slash \x01 \xc3\xa9";
  absl::StatusOr<strata::loaders::JsonValue> doc = strata::loaders::ParseJson(FormatJsonReport(BenchOptions(), result));
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_NE(doc->Find("label"), nullptr);
  EXPECT_EQ(doc->Find("label")->text(), result.label);
}

TEST(LatencyPlot, ScriptDrawsEachCurveOnALogPercentileAxis) {
  const std::vector<LatencySeries> series = SeriesOfRun(SampleRun());
  const std::string script = LatencyPlotScript("/tmp/x.png", "title", series, 1);
  EXPECT_THAT(script, HasSubstr("set logscale x"));
  EXPECT_THAT(script, HasSubstr("'99.9%%' 1000"));
  EXPECT_THAT(script, HasSubstr("$series2 using 1:2"));
  EXPECT_THAT(script, HasSubstr("dt 2"));  // curves past primary_count are dashed
  EXPECT_FALSE(FindGnuplot("/nonexistent-dir").ok());
}

}  // namespace
}  // namespace strata_bench
