// Key distributions for the load generator: which key index a client asks for next.
//
// Contract: a KeyGenerator is owned by one client; given the same pattern, range, seed and
// client position it produces the same sequence of key indices, each in [key_min, key_max].
#ifndef STRATA_BENCH_KEY_GENERATOR_H_
#define STRATA_BENCH_KEY_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace strata_bench {

enum class KeyPatternKind { kUniform, kSequential, kGaussian, kZipf };

struct KeyPattern {
  KeyPatternKind kind = KeyPatternKind::kUniform;
  double zipf_exponent = 0;  // only for kZipf, > 0
};

// Parses "uniform", "sequential", "gaussian" or "zipf:S" (S a positive number, e.g. 0.99).
absl::StatusOr<KeyPattern> ParseKeyPattern(absl::string_view text);
// The inverse of ParseKeyPattern, for reports ("zipf:0.99").
std::string KeyPatternName(const KeyPattern& pattern);

// ZipfSampler draws ranks 1..n with P(k) proportional to k^-s, for any s > 0 (s < 1, s = 1
// and s > 1 alike) in O(1) time and memory, by rejection-inversion (W. Hörmann and
// G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
// distributions", ACM TOMACS 6(3), 1996).
//
// The idea: h(x) = x^-s is decreasing, so the area under h over [k-1/2, k+1/2] is close to
// (and, after a small correction, at least) h(k). Draw a point uniformly in the area under
// h over [1/2, n+1/2] by inverting the integral H, round it to the nearest rank k, and
// accept it if it falls in the part of k's strip that has area exactly h(k). Acceptance is
// above 90% for every s, so a sample costs about one exp and one log.
// Worked example (s = 1, n = 1000): H(x) = log(x), so u uniform in [H(1.5) - 1, H(1000.5)]
// maps to x = e^u; ranks near 1 take the widest slices of u, as they should.
// H and its inverse are written with log1p/expm1 helpers so that s near 1 loses no
// precision (the textbook (x^(1-s) - 1)/(1-s) divides by almost zero there).
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double exponent);
  uint64_t Sample(std::mt19937_64& rng) const;

  uint64_t n() const { return n_; }
  double exponent() const { return exponent_; }

 private:
  double H(double x) const;
  double HInverse(double x) const;
  double h(double x) const;

  uint64_t n_;
  double exponent_;
  double h_integral_x1_;
  double h_integral_n_;
  double squeeze_;
};

// KeyGenerator yields key indices for one client:
//   uniform:    every index in the range equally likely;
//   sequential: client c of C walks key_min + c, + c + C, + c + 2C, ... wrapping at the end of
//               the range, so C clients together sweep the range in order like one global
//               counter would, without sharing one;
//   gaussian:   normal around the middle of the range, sd = (key_max - key_min) / 6, rounded
//               and clamped into the range;
//   zipf:S:     rank r (1 = hottest) is key_min + r - 1, drawn by ZipfSampler.
class KeyGenerator {
 public:
  KeyGenerator(const KeyPattern& pattern, uint64_t key_min, uint64_t key_max, uint64_t seed,
               uint64_t client_index, uint64_t client_count);

  uint64_t Next();

 private:
  KeyPattern pattern_;
  uint64_t key_min_;
  uint64_t key_max_;
  uint64_t range_;  // key_max - key_min + 1, at least 1
  std::mt19937_64 rng_;
  ZipfSampler zipf_;
  double gaussian_mean_;
  double gaussian_sd_;
  std::normal_distribution<double> normal_;
  uint64_t sequential_offset_;  // position within the range, in [0, range_)
  uint64_t sequential_step_;    // client_count mod range_
};

// ScanKeys yields the one-time keys of --scan-share for one client: client c of C asks
// start + c, start + c + C, start + c + 2C, ... and never wraps, so no index comes twice in a
// run, from this client or any other (a scan through the cache: every such GET misses).
// Worked example (start 1000, 3 clients): client 0 asks 1000, 1003, 1006; client 1 asks
// 1001, 1004, 1007; client 2 asks 1002, 1005, 1008.
class ScanKeys {
 public:
  ScanKeys(uint64_t start, uint64_t client_index, uint64_t client_count);

  uint64_t Next();

 private:
  uint64_t next_;
  uint64_t step_;
};

// Derives a well-mixed per-client seed from the run's --seed and the client's position
// (splitmix64), so clients do not walk the same sequence.
uint64_t ClientSeed(uint64_t run_seed, uint64_t client_index);

}  // namespace strata_bench

#endif  // STRATA_BENCH_KEY_GENERATOR_H_
