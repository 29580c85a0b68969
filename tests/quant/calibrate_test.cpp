// Calibration on known distributions: min/max is exact, the percentile clips injected outliers, the MSE range
// trades clipping against resolution and lands between the two.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/quant/calibrate.hpp"

using namespace primsel;
using namespace primsel::quant;

namespace {
std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}
double total(const RangeObserver& o) { return std::accumulate(o.counts().begin(), o.counts().end(), 0.0); }
}  // namespace

TEST_CASE("uniform data: all three methods find its bounds") {
  Rng rng(1);
  RangeObserver obs;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<float> x(20000);
    for (float& v : x) v = static_cast<float>(rng.uniform(-1, 3));
    obs.observe(x);
  }
  CHECK(obs.count() == 200000);
  const Range mm = obs.min_max(), pc = obs.percentile(0.9999), ms = obs.mse();
  CHECK(mm.lo == Approx(-1).margin(1e-3));
  CHECK(mm.hi == Approx(3).margin(1e-3));
  CHECK(pc.lo == Approx(-1).margin(0.01));
  CHECK(pc.hi == Approx(3).margin(0.01));
  // Clipping a uniform tail costs more than the resolution it buys almost at once.
  CHECK(ms.lo == Approx(-1).margin(0.05));
  CHECK(ms.hi == Approx(3).margin(0.05));
  const QuantParams p = obs.params(CalibrationMethod::min_max);
  CHECK(p.zero_point == 64);
  CHECK(dequantize(p.zero_point, p) == 0.0f);
}

TEST_CASE("Gaussian with outliers: percentile clips them, MSE lies between percentile and min/max") {
  RangeObserver obs;
  std::vector<float> x = gaussian(200000, 3);
  // Ten outliers at +-12: 5 per side, well under the 20 per side a 99.99% percentile clips.
  for (int i = 0; i < 5; ++i)
    x[static_cast<std::size_t>(i * 1000)] = 12.0f, x[static_cast<std::size_t>(i * 1000 + 1)] = -12.0f;
  // Two batches, the outliers only in the second: the histogram must grow without losing counts.
  obs.observe(std::span<const float>(x).subspan(5000));
  obs.observe(std::span<const float>(x).first(5000));
  CHECK(total(obs) == 200000);
  const Range mm = obs.min_max(), pc = obs.percentile(0.9999), ms = obs.mse();
  INFO("min/max [" << mm.lo << ", " << mm.hi << "] percentile [" << pc.lo << ", " << pc.hi << "] mse [" << ms.lo << ", "
                   << ms.hi << "]");
  CHECK(mm.lo == -12.0f);
  CHECK(mm.hi == 12.0f);
  // N(0, 1)'s 1e-4 tail starts at 3.72 sigma.
  CHECK(pc.hi == Approx(3.72).margin(0.35));
  CHECK(pc.lo == Approx(-3.72).margin(0.35));
  // Keeping 5 outliers at 12 costs 200000 * (24 / 255)^2 / 12 of rounding error; clipping them to c costs
  // 5 * (12 - c)^2: the optimum is near c = 10.9 per side.
  CHECK(ms.hi > pc.hi + 1);
  CHECK(ms.hi < mm.hi);
  CHECK(ms.lo < pc.lo - 1);
  CHECK(ms.lo > mm.lo);
  CHECK(ms.hi == Approx(10.9).margin(0.6));
  CHECK(obs.error(ms) <= obs.error(mm));
  CHECK(obs.error(ms) <= obs.error(pc));
}

TEST_CASE("the MSE range of a Laplace distribution is ACIQ's analytic optimum") {
  // Banner et al., "Post-training 4-bit quantization" (ACIQ): for Laplace(0, b) and 8 bits, the clip minimising
  // the MSE is 9.89 b; 200000 samples reach about 12 b, so the search must clip.
  Rng rng(4);
  std::vector<float> x(200000);
  for (float& v : x) v = static_cast<float>((rng.below(2) ? 1 : -1) * -std::log(1.0 - rng.uniform()));
  RangeObserver obs;
  obs.observe(x);
  const Range mm = obs.min_max(), ms = obs.mse();
  INFO("min/max [" << mm.lo << ", " << mm.hi << "] mse [" << ms.lo << ", " << ms.hi << "]");
  CHECK(ms.hi == Approx(9.89).margin(1.0));
  CHECK(ms.lo == Approx(-9.89).margin(1.0));
  CHECK(ms.hi < mm.hi);
}

TEST_CASE("a single far outlier is kept by MSE (its squared error dominates) and clipped by the percentile") {
  RangeObserver obs;
  std::vector<float> x = gaussian(100000, 4);
  x[0] = 1000.0f;
  obs.observe(x);
  CHECK(obs.mse().hi > 500);
  CHECK(obs.percentile(0.9999).hi < 5);
}

TEST_CASE("the histogram grows in both directions exactly and skips non-finite values") {
  RangeObserver obs(64);
  const float a[] = {0.0f, 0.5f, 1.0f};
  obs.observe(a);
  const float b[] = {-7.0f, 9.0f, std::nanf(""), INFINITY};
  obs.observe(b);
  CHECK(obs.count() == 5);
  CHECK(obs.skipped() == 2);
  CHECK(total(obs) == 5);
  CHECK(obs.hist_lo() <= -7.0);
  CHECK(obs.hist_lo() + obs.bin_width() * static_cast<double>(obs.bins()) >= 9.0);  // the edge is in the last bin
  CHECK(obs.min_max().lo == -7.0f);
  CHECK(obs.min_max().hi == 9.0f);
  // The median of {-7, 0, 0.5, 1, 9} sits in 0.5's bin.
  const Range p = obs.percentile(0.5);
  CHECK(std::fabs(p.hi - 0.5) <= obs.bin_width());
  RangeObserver empty;
  CHECK(empty.min_max().lo == 0.0f);
  CHECK(empty.params(CalibrationMethod::mse) == QuantParams{1.0f, 0});
  const float c[] = {2.5f, 2.5f};
  RangeObserver constant;
  constant.observe(c);
  CHECK(constant.min_max().hi == 2.5f);
  CHECK(constant.params(CalibrationMethod::percentile).scale == Approx(2.5 / 255));
}

TEST_CASE("calibrating for 7-bit levels: the same range over 127 levels, parameters that say so") {
  // What Network::calibrate does on AVX2 without VNNI (u8_activation_levels = [0, 127]).
  Rng rng(9);
  RangeObserver obs;
  std::vector<float> x(50000);
  for (float& v : x) v = static_cast<float>(rng.uniform(-1, 3));
  obs.observe(x);
  for (CalibrationMethod m : {CalibrationMethod::min_max, CalibrationMethod::percentile, CalibrationMethod::mse}) {
    const QuantParams p8 = obs.params(m), p7 = obs.params(m, u8_7bit_range);
    INFO("method " << static_cast<int>(m) << ": 8-bit {" << p8.scale << ", " << p8.zero_point << "} 7-bit {"
                   << p7.scale << ", " << p7.zero_point << "}");
    CHECK(p8.qmax == 255);
    CHECK(p7.qmax == 127);
    CHECK(p7.zero_point >= 0);
    CHECK(p7.zero_point <= 127);
    CHECK(dequantize(p7.zero_point, p7) == 0.0f);
    // About the same real range, so about twice the step.
    CHECK(p7.scale / p8.scale == Approx(255.0 / 127).epsilon(0.1));
    CHECK(dequantize(127, p7) == Approx(3).margin(0.1));
    CHECK(dequantize(0, p7) == Approx(-1).margin(0.1));
  }
  // Half the levels: about 4x the rounding error, whatever range the MSE search settles on.
  const Range r7 = obs.mse(u8_7bit_range), r8 = obs.mse();
  CHECK(obs.error(r7, u8_7bit_range) > obs.error(r8));
}
