// Rng: a small deterministic generator (PCG32 seeded through splitmix64). std:: distributions differ
// between standard libraries, so the normal and uniform transforms are written here: the same seed gives the
// same zoo weights, inputs and search on every platform.
#pragma once

#include <cmath>
#include <cstdint>

namespace primsel {

class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed = 0x853c49e6748fea9bULL) noexcept {
    state_ = splitmix(seed);
    inc_ = splitmix(seed ^ 0xda3e39cb94b95bdbULL) | 1u;
  }

  /// Uniform 32-bit value (PCG32, O'Neill 2014).
  constexpr std::uint32_t next_u32() noexcept {
    const std::uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + inc_;
    const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
    const auto rot = static_cast<std::uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
  }
  /// Uniform in [0, 1).
  constexpr double uniform() noexcept { return (next_u32() >> 8) * (1.0 / 16777216.0); }
  /// Uniform in [lo, hi).
  constexpr double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here).
  constexpr std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(next_u32()) * n) >> 32);
  }
  /// Standard normal (Box-Muller; one value per call keeps the stream simple to reason about).
  double normal() noexcept {
    constexpr double two_pi = 6.283185307179586;
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
  }

 private:
  static constexpr std::uint64_t splitmix(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::uint64_t state_;
  std::uint64_t inc_;
};

}  // namespace primsel
