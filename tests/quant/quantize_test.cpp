// The quantisation scheme: parameter choice, quantise/dequantise round trips, per-channel weights, bias, and the
// fixed-point requantisation against exact integer arithmetic and a double-precision reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "primsel/core/random.hpp"
#include "primsel/quant/quantize.hpp"

using namespace primsel;
using namespace primsel::quant;

namespace {
// Round half away from zero in double: the rounding the scheme defines.
double round_away(double x) { return std::round(x); }
}  // namespace

TEST_CASE("choose_params includes zero, represents it exactly, and documents its example") {
  const QuantParams p = choose_params(-1.0f, 3.0f);
  CHECK(p.scale == Approx(4.0 / 255));
  CHECK(p.zero_point == 64);
  CHECK(dequantize(p.zero_point, p) == 0.0f);
  // One-sided ranges are widened to zero: positive data puts the zero point at the bottom, negative at the top.
  CHECK(choose_params(2.0f, 5.0f).zero_point == 0);
  CHECK(choose_params(2.0f, 5.0f).scale == Approx(5.0 / 255));
  CHECK(choose_params(-5.0f, -2.0f).zero_point == 255);
  CHECK(choose_params(0.0f, 0.0f) == QuantParams{1.0f, 0});
  CHECK(choose_params(-1.0f, 1.0f, u8_7bit_range).zero_point == 64);  // 63.5 rounds away from zero
  // The parameters carry their levels: every producer of the tensor clamps to them.
  CHECK(choose_params(-1.0f, 3.0f).qmax == 255);
  CHECK(choose_params(-1.0f, 3.0f, u8_7bit_range) == QuantParams{4.0f / 127, 32, 127});
  CHECK(choose_params(-5.0f, -2.0f, u8_7bit_range).zero_point == 127);
  CHECK(choose_params(0.0f, 0.0f, u8_7bit_range) == QuantParams{1.0f, 0, 127});
  CHECK(levels(choose_params(-1.0f, 3.0f, u8_7bit_range)) == u8_7bit_range);
  CHECK(levels(QuantParams{}) == u8_range);
  Rng rng(5);
  for (int i = 0; i < 1000; ++i) {
    const auto lo = static_cast<float>(rng.uniform(-100, 10)), hi = static_cast<float>(rng.uniform(-10, 100));
    const QuantParams q = choose_params(lo, hi);
    INFO(lo << " " << hi);
    CHECK(q.zero_point >= 0);
    CHECK(q.zero_point <= 255);
    CHECK(quantize(0.0f, q, u8_range) == q.zero_point);
    CHECK(dequantize(q.zero_point, q) == 0.0f);
  }
}

TEST_CASE("quantise then dequantise is within scale / 2 over the chosen range") {
  Rng rng(7);
  for (QRange r : {u8_range, u8_7bit_range}) {
    for (int trial = 0; trial < 50; ++trial) {
      const auto lo = static_cast<float>(rng.uniform(-20, 0)), hi = static_cast<float>(rng.uniform(0, 20));
      const QuantParams p = choose_params(lo, hi, r);
      std::vector<float> x(1000);
      for (float& v : x) v = static_cast<float>(rng.uniform(lo, hi));
      x[0] = lo, x[1] = hi, x[2] = 0;
      std::vector<std::uint8_t> q(x.size());
      std::vector<float> back(x.size());
      quantize(std::span<const float>(x), p, std::span<std::uint8_t>(q), r);
      dequantize(std::span<const std::uint8_t>(q), p, std::span<float>(back));
      float worst = 0;
      for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(back[i] - x[i]));
      INFO("range [" << lo << ", " << hi << "] scale " << p.scale << " zp " << p.zero_point);
      // The nudged zero point shifts the ends by up to scale / 2; float rounding of x / scale adds a hair.
      CHECK(worst <= p.scale * 0.5f * (1 + 1e-5f));
      CHECK(back[2] == 0.0f);
    }
  }
}

TEST_CASE("quantize rounds half to even, clamps, and maps NaN to the low end") {
  const QuantParams p{0.5f, 10};
  CHECK(quantize(0.25f, p, u8_range) == 10);   // 0.5 -> 0
  CHECK(quantize(0.75f, p, u8_range) == 12);   // 1.5 -> 2
  CHECK(quantize(-0.25f, p, u8_range) == 10);  // -0.5 -> -0
  CHECK(quantize(1e9f, p, u8_range) == 255);
  CHECK(quantize(-1e9f, p, u8_range) == 0);
  CHECK(quantize(std::nanf(""), p, u8_range) == 0);
  CHECK(quantize(-1e9f, QuantParams{1.0f, 0}, s8_weight_range) == -127);
}

TEST_CASE("per-channel weights are symmetric, use [-127, 127] and round-trip within scale / 2") {
  Rng rng(9);
  const std::int64_t channels = 5, per = 37;
  std::vector<float> w(static_cast<std::size_t>(channels * per));
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>(rng.normal() * (1.0 + static_cast<double>(i / per)));
  std::fill(w.begin() + 2 * per, w.begin() + 3 * per, 0.0f);  // an all-zero channel
  const ChannelWeights q = quantize_weights_per_channel(w, channels).value();
  REQUIRE(q.scales.size() == 5);
  CHECK(q.scales[2] == 1.0f);
  for (std::int64_t c = 0; c < channels; ++c) {
    int amax = 0;
    for (std::int64_t i = 0; i < per; ++i) {
      const auto k = static_cast<std::size_t>(c * per + i);
      CHECK(q.values[k] >= -127);
      amax = std::max(amax, std::abs(int{q.values[k]}));
      CHECK(std::fabs(dequantize(q.values[k], {q.scales[static_cast<std::size_t>(c)], 0}) - w[k]) <=
            q.scales[static_cast<std::size_t>(c)] * 0.5f * (1 + 1e-5f));
    }
    CHECK(amax == (c == 2 ? 0 : 127));
  }
  CHECK_FALSE(quantize_weights_per_channel(w, 4).ok());
  w[3] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(quantize_weights_per_channel(w, channels).ok());
  w[3] = std::numeric_limits<float>::quiet_NaN();  // std::max skips NaN: it must be caught on its own
  CHECK_FALSE(quantize_weights_per_channel(w, channels).ok());
}

TEST_CASE("bias is quantised to the accumulator's scale and saturates") {
  const float bias[] = {1.0f, -0.3f, 1e30f}, w_scales[] = {0.01f, 0.02f, 1.0f};
  const auto q = quantize_bias(bias, 0.5f, w_scales);
  CHECK(q[0] == 200);
  CHECK(q[1] == -30);
  CHECK(q[2] == std::numeric_limits<std::int32_t>::max());
}

TEST_CASE("quantize_multiplier is a Q31 value and a shift within 2^-31 of the real") {
  Rng rng(13);
  for (int i = 0; i < 10000; ++i) {
    const double real = std::ldexp(rng.uniform(0.5, 1.0), static_cast<int>(rng.below(60)) - 31);
    const FixedPointMultiplier m = quantize_multiplier(real).value();
    INFO(real);
    CHECK(m.multiplier >= (1 << 30));
    CHECK(m.shift >= 1);
    CHECK(m.shift <= 62);
    CHECK(std::fabs(m.real() - real) <= real * std::ldexp(1.0, -31));
  }
  CHECK(quantize_multiplier(0.5).value() == FixedPointMultiplier{1 << 30, 31});
  CHECK(quantize_multiplier(1.0).value() == FixedPointMultiplier{1 << 30, 30});
  CHECK(quantize_multiplier(std::nextafter(1.0, 0.0)).value() == FixedPointMultiplier{1 << 30, 30});  // rounds up
  CHECK(quantize_multiplier(1e-12).value().multiplier == 0);  // below 2^-32: every accumulator maps to 0
  CHECK_FALSE(quantize_multiplier(0.0).ok());
  CHECK_FALSE(quantize_multiplier(-1.0).ok());
  CHECK_FALSE(quantize_multiplier(std::ldexp(1.0, 30)).ok());
  CHECK_FALSE(quantize_multiplier(std::nan("")).ok());
}

TEST_CASE("multiply_by_quantized_multiplier is the exactly rounded product, ties away from zero") {
  Rng rng(17);
  for (int i = 0; i < 100000; ++i) {
    const auto acc = static_cast<std::int32_t>(rng.next_u32());
    const FixedPointMultiplier m{static_cast<std::int32_t>((1u << 30) + (rng.next_u32() >> 2)),
                                 1 + static_cast<std::int32_t>(rng.below(62))};
    // Exact: |acc| * M / 2^s with 128-bit integers; round half away from zero.
    const __int128 prod = static_cast<__int128>(acc) * m.multiplier;
    const __int128 mag = prod < 0 ? -prod : prod;
    const __int128 half = static_cast<__int128>(1) << (m.shift - 1);
    const __int128 q = (mag + half) >> m.shift;
    const auto want = static_cast<std::int64_t>(prod < 0 ? -q : q);
    INFO("acc " << acc << " multiplier " << m.multiplier << " shift " << m.shift);
    REQUIRE(multiply_by_quantized_multiplier(acc, m) == want);
  }
  // Ties: 0.5 is exact in the scheme, so +-1.5 and +-2.5 round away from zero.
  const FixedPointMultiplier half = quantize_multiplier(0.5).value();
  CHECK(multiply_by_quantized_multiplier(3, half) == 2);
  CHECK(multiply_by_quantized_multiplier(-3, half) == -2);
  CHECK(multiply_by_quantized_multiplier(5, half) == 3);
  CHECK(multiply_by_quantized_multiplier(-5, half) == -3);
  CHECK(multiply_by_quantized_multiplier(1, half) == 1);
  CHECK(multiply_by_quantized_multiplier(-1, half) == -1);
  CHECK(multiply_by_quantized_multiplier(std::numeric_limits<std::int32_t>::min(), half) == -(std::int64_t{1} << 30));
}

TEST_CASE("requantize matches a double-precision reference within one unit, exactly for dyadic multipliers") {
  Rng rng(19);
  std::int64_t off_by_one = 0, total = 0;
  for (int i = 0; i < 20000; ++i) {
    const double real = std::ldexp(rng.uniform(0.5, 1.0), -static_cast<int>(rng.below(20)) - 1);
    const FixedPointMultiplier m = quantize_multiplier(real).value();
    const std::int32_t zp = static_cast<std::int32_t>(rng.below(256));
    // Accumulators whose scaled value spans the output range and beyond.
    const auto acc = static_cast<std::int32_t>(rng.uniform(-400, 400) / real);
    const double ref = std::clamp(round_away(acc * real) + zp, 0.0, 255.0);
    const std::int32_t got = requantize(acc, m, zp, 0, 255);
    INFO("acc " << acc << " real " << real << " zp " << zp);
    REQUIRE(std::fabs(got - ref) <= 1);
    off_by_one += got != ref;
    ++total;
  }
  // Off by one only where acc * real lies within 2^-31 relative of a tie: practically never.
  CHECK(off_by_one * 1000 <= total);
  // Dyadic reals are represented exactly, so the scheme's result is the double reference's, ties included.
  for (double real : {0.5, 0.25, 0.375, 3.0 / 1024, 1.25, 0.75}) {
    const FixedPointMultiplier m = quantize_multiplier(real).value();
    CHECK(m.real() == real);
    for (std::int32_t acc = -3000; acc <= 3000; ++acc) {
      const double ref = std::clamp(round_away(acc * real) + 128, 0.0, 255.0);
      INFO("acc " << acc << " real " << real);
      REQUIRE(requantize(acc, m, 128, 0, 255) == static_cast<std::int32_t>(ref));
    }
  }
}

TEST_CASE("fused activations tighten the clamp bounds in the quantised domain") {
  const QuantParams out{0.05f, 100};
  CHECK(activation_range(-INFINITY, INFINITY, out) == u8_range);
  CHECK(activation_range(0, INFINITY, out) == QRange{100, 255});  // Relu: the zero point
  CHECK(activation_range(0, 6, out) == QRange{100, 220});         // Relu6: 100 + 6 / 0.05
  CHECK(activation_range(0, 6, QuantParams{0.01f, 0}) == QRange{0, 255});
  // 7-bit outputs: the clamp never leaves [0, 127], with or without an activation.
  const QuantParams out7{0.05f, 100, 127};
  CHECK(activation_range(-INFINITY, INFINITY, out7) == u8_7bit_range);
  CHECK(activation_range(0, INFINITY, out7) == QRange{100, 127});
  CHECK(activation_range(0, 6, out7) == QRange{100, 127});  // 6 quantises beyond the levels
  CHECK(activation_range(0, 1, out7) == QRange{100, 120});
  CHECK(activation_range(-INFINITY, INFINITY, out7, u8_range) == u8_range);  // an explicit range wins
  CHECK(requantize(1000, quantize_multiplier(0.5).value(), 100, 100, 220) == 220);
}
