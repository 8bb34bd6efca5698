#include "bench/strata_bench/key_generator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strata_bench {

namespace {

// The largest zipf exponent we accept: beyond it rank 1 takes essentially every draw.
constexpr double kMaxZipfExponent = 20.0;

// log1p(x)/x, continuous at 0 (Taylor series below 1e-8 where the division loses digits).
double Log1pOverX(double x) {
  if (std::fabs(x) > 1e-8) return std::log1p(x) / x;
  return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

// expm1(x)/x, continuous at 0.
double Expm1OverX(double x) {
  if (std::fabs(x) > 1e-8) return std::expm1(x) / x;
  return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

// A uniform double in [0, 1) with 53 random bits; not std::generate_canonical, whose
// output for a given engine state has changed between library versions.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

absl::StatusOr<KeyPattern> ParseKeyPattern(absl::string_view text) {
  if (text == "uniform") return KeyPattern{KeyPatternKind::kUniform, 0};
  if (text == "sequential") return KeyPattern{KeyPatternKind::kSequential, 0};
  if (text == "gaussian") return KeyPattern{KeyPatternKind::kGaussian, 0};
  if (text.substr(0, 5) == "zipf:") {
    double exponent = 0;
    if (!absl::SimpleAtod(text.substr(5), &exponent) || !(exponent > 0) ||
        exponent > kMaxZipfExponent) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--key-pattern %s: the zipf exponent must be a number in (0, %g], e.g. zipf:0.99", text,
          kMaxZipfExponent));
    }
    return KeyPattern{KeyPatternKind::kZipf, exponent};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--key-pattern ", text, ": expected uniform, sequential, gaussian or zipf:S"));
}

std::string KeyPatternName(const KeyPattern& pattern) {
  switch (pattern.kind) {
    case KeyPatternKind::kUniform: return "uniform";
    case KeyPatternKind::kSequential: return "sequential";
    case KeyPatternKind::kGaussian: return "gaussian";
    case KeyPatternKind::kZipf: return absl::StrCat("zipf:", pattern.zipf_exponent);
  }
  return "unknown";
}

ZipfSampler::ZipfSampler(uint64_t n, double exponent)
    : n_(std::max<uint64_t>(n, 1)), exponent_(exponent) {
  h_integral_x1_ = H(1.5) - 1.0;
  h_integral_n_ = H(static_cast<double>(n_) + 0.5);
  // A draw whose continuous position x is within `squeeze_` of its rank is accepted without
  // evaluating H again (the "squeeze" of the paper).
  squeeze_ = 2.0 - HInverse(H(2.5) - h(2.0));
}

// H(x) = integral of h from 1 to x = (x^(1-s) - 1) / (1 - s), or log(x) when s = 1.
double ZipfSampler::H(double x) const {
  const double log_x = std::log(x);
  return Expm1OverX((1.0 - exponent_) * log_x) * log_x;
}

double ZipfSampler::HInverse(double x) const {
  double t = x * (1.0 - exponent_);
  if (t < -1.0) t = -1.0;  // rounding may push t just past the domain of log1p
  return std::exp(Log1pOverX(t) * x);
}

double ZipfSampler::h(double x) const { return std::exp(-exponent_ * std::log(x)); }

uint64_t ZipfSampler::Sample(std::mt19937_64& rng) const {
  while (true) {
    // u is uniform in (H(1.5) - 1, H(n + 0.5)]; the "- 1" is the strip of rank 1 (h(1) = 1).
    const double u = h_integral_n_ + Uniform01(rng) * (h_integral_x1_ - h_integral_n_);
    const double x = HInverse(u);
    double rounded = std::floor(x + 0.5);
    rounded = std::clamp(rounded, 1.0, static_cast<double>(n_));
    const uint64_t k = static_cast<uint64_t>(rounded);
    if (rounded - x <= squeeze_ || u >= H(rounded + 0.5) - h(rounded)) return k;
  }
}

uint64_t ClientSeed(uint64_t run_seed, uint64_t client_index) {
  uint64_t z = run_seed + 0x9e3779b97f4a7c15ULL * (client_index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

KeyGenerator::KeyGenerator(const KeyPattern& pattern, uint64_t key_min, uint64_t key_max,
                           uint64_t seed, uint64_t client_index, uint64_t client_count)
    : pattern_(pattern),
      key_min_(key_min),
      key_max_(std::max(key_min, key_max)),
      range_(key_max_ - key_min_ + 1),
      rng_(ClientSeed(seed, client_index)),
      zipf_(range_, pattern.kind == KeyPatternKind::kZipf ? pattern.zipf_exponent : 1.0),
      gaussian_mean_((static_cast<double>(key_min_) + static_cast<double>(key_max_)) / 2.0),
      gaussian_sd_(std::max(1e-9, static_cast<double>(key_max_ - key_min_) / 6.0)),
      normal_(0.0, 1.0),
      sequential_offset_(client_index % range_),
      sequential_step_(std::max<uint64_t>(client_count, 1) % range_) {}

uint64_t KeyGenerator::Next() {
  switch (pattern_.kind) {
    case KeyPatternKind::kUniform:
      // Multiply-shift maps 64 random bits onto the range with a bias below range/2^64,
      // invisible at any range a cache benchmark uses, and without a division.
      return key_min_ + static_cast<uint64_t>(
                            (static_cast<unsigned __int128>(rng_()) * range_) >> 64);
    case KeyPatternKind::kSequential: {
      const uint64_t key = key_min_ + sequential_offset_;
      sequential_offset_ += sequential_step_;
      if (sequential_offset_ >= range_) sequential_offset_ -= range_;
      return key;
    }
    case KeyPatternKind::kGaussian: {
      const double x = std::round(gaussian_mean_ + gaussian_sd_ * normal_(rng_));
      const double clamped =
          std::clamp(x, static_cast<double>(key_min_), static_cast<double>(key_max_));
      return static_cast<uint64_t>(clamped);
    }
    case KeyPatternKind::kZipf:
      return key_min_ + zipf_.Sample(rng_) - 1;
  }
  return key_min_;
}

ScanKeys::ScanKeys(uint64_t start, uint64_t client_index, uint64_t client_count)
    : next_(start + client_index), step_(std::max<uint64_t>(client_count, 1)) {}

uint64_t ScanKeys::Next() {
  const uint64_t key = next_;
  next_ += step_;
  return key;
}

}  // namespace strata_bench
