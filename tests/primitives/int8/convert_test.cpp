// quant/convert.hpp (tested here beside the int8 primitives whose edges it serves): quantise from every f32 layout
// into u8 NHWC and dequantise back into every layout, bit-identical to the scalar quant::quantize/dequantize per
// element (including NaN, infinities and values beyond the range), round trips within scale / 2, blocked tails
// zero; requantise equal to going through f32; and the argument checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/quant/convert.hpp"

using namespace primsel;

namespace {
const Shape shapes[] = {{1, 1, 1, 1}, {1, 3, 5, 7}, {2, 17, 13, 7}, {1, 33, 3, 3}, {1, 64, 7, 7}, {2, 8, 1, 19}};
}  // namespace

TEST_CASE("quantize and dequantize in every layout equal the scalar definitions and round-trip within scale/2") {
  Rng rng(11);
  // The whole byte, and the 7-bit levels the int8 GEMM needs on AVX2 without VNNI: nothing lands above 127 there.
  for (quant::QRange levels : {quant::u8_range, quant::u8_7bit_range})
  for (const Shape& s : shapes)
    for (Layout l : all_layouts) {
      INFO(to_string(s) << " " << to_string(l) << " levels [0, " << levels.hi << "]");
      const auto lo = static_cast<float>(rng.uniform(-8, 0)), hi = static_cast<float>(rng.uniform(0.5, 8));
      const QuantParams p = quant::choose_params(lo, hi, levels);
      REQUIRE(p.qmax == levels.hi);
      Tensor x(s);  // nchw, converted to l below
      for (float& v : x.floats()) v = static_cast<float>(rng.uniform(lo, hi));
      // Specials and out-of-range values: they must clamp as the scalar quantize clamps them.
      const float specials[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, hi * 3, lo * 3, 0.0f};
      for (std::size_t i = 0; i < std::size(specials) && i * 7 < x.floats().size(); ++i) x.floats()[i * 7] = specials[i];
      Tensor xl = to_layout(x, l).value();
      Tensor q(s, {Layout::nhwc, DType::u8}, p);
      REQUIRE(quant::quantize(xl.view(), q.view()).ok());
      std::size_t wrong = 0, above = 0;
      for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c)
          for (std::int64_t h = 0; h < s.h(); ++h)
            for (std::int64_t w = 0; w < s.w(); ++w) {
              const float v = x.data<float>()[offset(s, Layout::nchw, n, c, h, w)];
              const std::uint8_t got = q.data<std::uint8_t>()[offset(s, Layout::nhwc, n, c, h, w)];
              wrong += got != quant::quantize(v, p, levels);
              above += got > levels.hi;
            }
      CHECK(wrong == 0);
      CHECK(above == 0);

      Tensor back(s, {l, DType::f32});
      std::fill(back.floats().begin(), back.floats().end(), -99.0f);  // the blocked tail must be overwritten
      REQUIRE(quant::dequantize(q.view(), back.view()).ok());
      Tensor back_nchw = to_layout(back, Layout::nchw).value();
      float worst = 0;
      std::size_t inexact = 0;
      for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c)
          for (std::int64_t h = 0; h < s.h(); ++h)
            for (std::int64_t w = 0; w < s.w(); ++w) {
              const std::int64_t i = offset(s, Layout::nchw, n, c, h, w);
              const float got = back_nchw.data<float>()[i], v = x.data<float>()[i];
              inexact += got != quant::dequantize(q.data<std::uint8_t>()[offset(s, Layout::nhwc, n, c, h, w)], p);
              if (v >= lo && v <= hi) worst = std::max(worst, std::fabs(got - v));
            }
      CHECK(inexact == 0);
      // The nudged zero point shifts the grid by up to scale / 2 at the ends; float rounding of x / scale a hair.
      CHECK(worst <= p.scale * 0.5f * (1 + 1e-5f));
      if (is_blocked(l)) {  // padded tail channels read as zero: converting the nchw copy back gives the same bytes
        Tensor again = to_layout(back_nchw, l).value();
        CHECK(std::memcmp(again.bytes(), back.bytes(), back.size_bytes()) == 0);
      }
    }
}

TEST_CASE("values on and next to the midpoints between grid points quantise as the scalar division rounds them") {
  // x / scale lands within an ulp of k + 0.5, so a vector division that is not correctly rounded (xsimd's NEON
  // reciprocal estimate) rounds some of them the other way.
  for (const float scale : {0.1f, 0.0173f, 0.7f, 3.3f, 1.0f / 3}) {
    const QuantParams p{scale, 77};
    const Shape s{1, 1, 3, 256};
    Tensor x(s);
    for (std::int64_t k = 0; k < 256; ++k) {
      const float mid = (static_cast<float>(k - p.zero_point) + 0.5f) * scale;
      x.floats()[static_cast<std::size_t>(k)] = mid;
      x.floats()[static_cast<std::size_t>(256 + k)] = std::nextafter(mid, -INFINITY);
      x.floats()[static_cast<std::size_t>(512 + k)] = std::nextafter(mid, INFINITY);
    }
    Tensor q(s, {Layout::nhwc, DType::u8}, p);
    REQUIRE(quant::quantize(x.view(), q.view()).ok());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < x.floats().size(); ++i)
      wrong += q.data<std::uint8_t>()[i] != quant::quantize(x.floats()[i], p, quant::u8_range);
    INFO("scale " << scale);
    CHECK(wrong == 0);
  }
}

TEST_CASE("requantize equals dequantise-then-quantise for every byte") {
  const Shape s{2, 5, 3, 7};
  // The last two into 7-bit levels: from the whole byte, and between equal 7-bit parameters (bytes above 127
  // cannot occur there, and would clamp).
  for (auto [a, b] : {std::pair{QuantParams{0.1f, 128}, QuantParams{0.05f, 0}}, std::pair{QuantParams{0.02f, 0}, QuantParams{0.3f, 255}},
                      std::pair{QuantParams{1.0f, 7}, QuantParams{1.0f, 7}},
                      std::pair{QuantParams{0.02f, 100}, QuantParams{0.03f, 90, 127}},
                      std::pair{QuantParams{0.5f, 64, 127}, QuantParams{0.5f, 64, 127}}}) {
    Tensor src(s, {Layout::nhwc, DType::u8}, a), dst(s, {Layout::nhwc, DType::u8}, b);
    for (std::size_t i = 0; i < src.size_bytes(); ++i) src.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i * 37);
    REQUIRE(quant::requantize(src.view(), dst.view()).ok());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < src.size_bytes(); ++i)
      wrong += dst.data<std::uint8_t>()[i] !=
               quant::quantize(quant::dequantize(src.data<std::uint8_t>()[i], a), b, quant::levels(b));
    CHECK(wrong == 0);
    CHECK(*std::max_element(dst.data<std::uint8_t>(), dst.data<std::uint8_t>() + dst.size_bytes()) <= b.qmax);
  }
}

TEST_CASE("conversions check dtypes, layouts and shapes") {
  Tensor f({1, 3, 4, 4}), u({1, 3, 4, 4}, {Layout::nhwc, DType::u8}), u_nchw({1, 3, 4, 4}, {Layout::nchw, DType::u8});
  Tensor other({1, 3, 4, 5}, {Layout::nhwc, DType::u8});
  CHECK(quant::quantize(f.view(), u_nchw.view()).error().code() == ErrorCode::unsupported);
  CHECK(quant::quantize(u.view(), u.view()).error().code() == ErrorCode::invalid_argument);
  CHECK(quant::quantize(f.view(), other.view()).error().code() == ErrorCode::shape_mismatch);
  CHECK(quant::dequantize(u_nchw.view(), f.view()).error().code() == ErrorCode::unsupported);
  CHECK(quant::dequantize(f.view(), f.view()).error().code() == ErrorCode::invalid_argument);
  CHECK(quant::requantize(u.view(), f.view()).error().code() == ErrorCode::invalid_argument);
  CHECK(quant::requantize(u.view(), other.view()).error().code() == ErrorCode::shape_mismatch);
}

TEST_CASE("quantize_dynamic: the row's finite range widened to 0, non-finite values at its ends", "[int8][quant]") {
  Rng rng_values(11);
  for (quant::QRange range : {quant::u8_range, quant::u8_7bit_range}) {
    INFO("range [" << range.lo << ", " << range.hi << "]");
    Rng rng(3);
    for (std::int64_t n : {1, 2, 7, 64, 129}) {
      std::vector<float> x(static_cast<std::size_t>(n));
      for (float& v : x) v = static_cast<float>(rng.uniform(-3.0, 5.0));
      std::vector<std::uint8_t> q(x.size()), q_oracle(x.size());
      const QuantParams p = quant::quantize_dynamic(x, range, q);
      float lo = x[0], hi = x[0];
      for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
      const QuantParams oracle = quant::choose_params(lo, hi, range);
      CHECK(p == oracle);
      quant::quantize(std::span<const float>(x), oracle, std::span<std::uint8_t>(q_oracle), range);
      CHECK(q == q_oracle);
    }
    // Constant rows: all of them represented, 0 exactly.
    std::vector<std::uint8_t> q(5);
    std::vector<float> c(5, 2.5f);
    QuantParams p = quant::quantize_dynamic(c, range, q);
    CHECK(quant::dequantize(q[0], p) == Approx(2.5f).epsilon(1e-6));
    c.assign(5, -3.0f);
    p = quant::quantize_dynamic(c, range, q);
    CHECK(quant::dequantize(q[0], p) == Approx(-3.0f).epsilon(1e-6));
    c.assign(5, 0.0f);
    p = quant::quantize_dynamic(c, range, q);
    CHECK(p == QuantParams{1.0f, range.lo, range.hi});
    CHECK(quant::dequantize(q[0], p) == 0.0f);
    // NaN and -Inf go to the low end, +Inf to the high end; the finite values decide the range. 40 values: two
    // whole vectors (AVX-512) and a tail, a non-finite value in each part.
    std::vector<float> bad(40);
    for (float& v : bad) v = static_cast<float>(rng_values.uniform(-2.0, 1.0));
    bad[3] = std::numeric_limits<float>::quiet_NaN(), bad[20] = std::numeric_limits<float>::infinity();
    bad[33] = -std::numeric_limits<float>::infinity(), bad[39] = std::numeric_limits<float>::quiet_NaN();
    q.resize(bad.size());
    p = quant::quantize_dynamic(bad, range, q);
    std::vector<float> finite_values;
    for (float v : bad)
      if (std::isfinite(v)) finite_values.push_back(v);
    float flo = finite_values[0], fhi = finite_values[0];
    for (float v : finite_values) flo = std::min(flo, v), fhi = std::max(fhi, v);
    CHECK(p == quant::choose_params(flo, fhi, range));
    for (std::size_t i = 0; i < bad.size(); ++i) {
      INFO("value " << i << ": " << bad[i]);
      const int expected = i == 20                          ? range.hi
                           : (i == 3 || i == 33 || i == 39) ? range.lo
                                                            : quant::quantize(bad[i], p, range);
      CHECK(int(q[i]) == expected);
    }
    std::vector<float> all_nan(3, std::numeric_limits<float>::quiet_NaN());
    q.resize(3);
    CHECK(quant::quantize_dynamic(all_nan, range, q) == QuantParams{1.0f, range.lo, range.hi});
  }
}
