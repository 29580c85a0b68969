// quant/convert.hpp (tested here beside the int8 primitives whose edges it serves): quantise from every f32 layout
// into u8 NHWC and dequantise back into every layout, bit-identical to the scalar quant::quantize/dequantize per
// element (including NaN, infinities and values beyond the range), round trips within scale / 2, blocked tails
// zero; requantise equal to going through f32; and the argument checks.
#include <catch2/catch.hpp>

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
  for (const Shape& s : shapes)
    for (Layout l : all_layouts) {
      INFO(to_string(s) << " " << to_string(l));
      const auto lo = static_cast<float>(rng.uniform(-8, 0)), hi = static_cast<float>(rng.uniform(0.5, 8));
      const QuantParams p = quant::choose_params(lo, hi);
      Tensor x(s);  // nchw, converted to l below
      for (float& v : x.floats()) v = static_cast<float>(rng.uniform(lo, hi));
      // Specials and out-of-range values: they must clamp as the scalar quantize clamps them.
      const float specials[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, hi * 3, lo * 3, 0.0f};
      for (std::size_t i = 0; i < std::size(specials) && i * 7 < x.floats().size(); ++i) x.floats()[i * 7] = specials[i];
      Tensor xl = to_layout(x, l).value();
      Tensor q(s, {Layout::nhwc, DType::u8}, p);
      REQUIRE(quant::quantize(xl.view(), q.view()).ok());
      std::size_t wrong = 0;
      for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c)
          for (std::int64_t h = 0; h < s.h(); ++h)
            for (std::int64_t w = 0; w < s.w(); ++w) {
              const float v = x.data<float>()[offset(s, Layout::nchw, n, c, h, w)];
              wrong += q.data<std::uint8_t>()[offset(s, Layout::nhwc, n, c, h, w)] != quant::quantize(v, p, quant::u8_range);
            }
      CHECK(wrong == 0);

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
  for (auto [a, b] : {std::pair{QuantParams{0.1f, 128}, QuantParams{0.05f, 0}}, std::pair{QuantParams{0.02f, 0}, QuantParams{0.3f, 255}},
                      std::pair{QuantParams{1.0f, 7}, QuantParams{1.0f, 7}}}) {
    Tensor src(s, {Layout::nhwc, DType::u8}, a), dst(s, {Layout::nhwc, DType::u8}, b);
    for (std::size_t i = 0; i < src.size_bytes(); ++i) src.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i * 37);
    REQUIRE(quant::requantize(src.view(), dst.view()).ok());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < src.size_bytes(); ++i)
      wrong += dst.data<std::uint8_t>()[i] !=
               quant::quantize(quant::dequantize(src.data<std::uint8_t>()[i], a), b, quant::u8_range);
    CHECK(wrong == 0);
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
