// DepthwiseU8S8 against the integer reference, through the target's vector path and the portable scalar path:
// 3x3 and 5x5, strides 1 and 2 (also mixed), no, symmetric, asymmetric and oversized pads, channel counts around
// the vector width and the VNNI kernel's 64-channel blocks (1, 3, 5, 17, 33, 64, 65, 130), odd sizes, batch 1-2,
// threads 1-2, zero point edges, bias, Relu/Relu6, and the VNNI kernel's general requantisation form; its
// transposed last block (1 or 2 column vectors), its two-row tiles and its requantisation with the folded zero point,
// with and without the byte clamp.
#include <catch2/catch.hpp>

#include <limits>

#include "primsel/core/random.hpp"

#include "primsel/primitives/int8/depthwise_u8s8.hpp"
#include "quant_conv_tester.hpp"

using namespace primsel;
using primsel::testing::QuantConvTester;

TEST_CASE("depthwise_u8s8 is exact over a shape sweep, vector and scalar paths") {
  const Activation activations[] = {Activation::none(), Activation::relu(), Activation::relu6()};
  const std::int32_t zero_points[] = {0, 128, 255};
  const std::int64_t sizes[][2] = {{7, 7}, {13, 13}, {17, 17}, {13, 7}, {7, 17}, {2, 3}};
  int index = 0;
  for (std::int64_t k : {3, 5})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : {1, 3, 5, 17, 33, 64, 65, 130})
        for (int pads = 0; pads < 4; ++pads) {
          ++index;
          const auto* hw = sizes[index % 6];
          QuantConvTester t;
          t.depthwise(c).hw(hw[0], hw[1]).k(k).stride(stride).batch(1 + (index % 3 == 0));
          t.threads(1 + (index / 2) % 2).input_zero_point(zero_points[index % 3]).bias(index % 4 != 1);
          t.activation(activations[(index / 3) % 3]);
          if (index % 7 == 3) t.stride(stride, 3 - stride);
          if (pads == 1) t.pad(k / 2);
          if (pads == 2) t.pad(k / 2, 0, k / 2 + 1, k - 1);
          if (pads == 3) t.pad(k, k + 1, 1, k);
          if (t.desc().oh <= 0 || t.desc().ow <= 0) continue;
          t.check<DepthwiseU8S8>();
          t.check<DepthwiseU8S8>(&DepthwiseU8S8::run_scalar);
        }
}

// The VNNI kernel's requantisation in its general form (64-bit products), which realistic scales rarely need.
struct DepthwiseU8S8General : DepthwiseU8S8 {
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q) {
    auto p = DepthwiseU8S8::plan(d, w, q);
    if (p) p->requant = kernels::U8S8Requant::general;
    return p;
  }
};

TEST_CASE("depthwise_u8s8's VNNI kernel with the general requantisation form") {
  int index = 0;
  for (std::int64_t k : {3, 5})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : {1, 17, 64, 65, 130}) {
        ++index;
        QuantConvTester t;
        t.depthwise(c).hw(9 + index % 3, 11).k(k).stride(stride).pad(k / 2).batch(1 + index % 2);
        t.threads(1 + index % 2).input_zero_point(index % 2 ? 7 : 250).activation(index % 3 ? Activation::relu6()
                                                                                           : Activation::none());
        t.check<DepthwiseU8S8General>();
      }
}

TEST_CASE("depthwise_u8s8 on mobilenet-like layers, many threads' rows, and its accuracy") {
  for (auto run : {&DepthwiseU8S8::run, &DepthwiseU8S8::run_scalar}) {
    const double e1 = QuantConvTester().depthwise(144).hw(56, 56).k(3).pad(1).threads(2).check<DepthwiseU8S8>(run);
    const double e2 = QuantConvTester().depthwise(96).hw(28, 28).k(3).stride(2).pad(1).batch(2).threads(2)
                          .check<DepthwiseU8S8>(run);
    const double e3 = QuantConvTester().depthwise(40).hw(17, 17).k(5).stride(2).pad(2).check<DepthwiseU8S8>(run);
    CHECK(std::max({e1, e2, e3}) <= 2.0);
    // A fused Relu6 narrows the output range (scale 6/255) far below the accumulator's (about +-25 here), while
    // weight rounding stays relative to the accumulator: measured in output scales the error grows (3.6 here).
    // The per-element bound checked inside covers it.
    QuantConvTester().depthwise(96).hw(28, 28).k(3).stride(2).pad(1).activation(Activation::relu6()).check<DepthwiseU8S8>(run);
  }
}

TEST_CASE("depthwise_u8s8's last block of 1 or 2 column vectors (16 or 32 channels and fewer) and full blocks") {
  const Activation activations[] = {Activation::relu6(), Activation::relu(), Activation::none()};
  int index = 0;
  for (std::int64_t k : {3, 5})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : {16, 31, 32, 96, 144, 160, 192}) {
        ++index;
        QuantConvTester t;
        t.depthwise(c).hw(6 + index % 5, 13 - index % 4).k(k).stride(stride).pad(k / 2).batch(1 + index % 2);
        t.threads(1 + index % 2).input_zero_point(index % 3 ? 3 : 200).activation(activations[index % 3]);
        if (index % 4 == 1) t.output_zero_point(index % 8 == 1 ? 0 : 17);
        t.check<DepthwiseU8S8>();
      }
}

TEST_CASE("depthwise_u8s8's two-row tiles (3x3, vertical stride 1): tails, edges, pairs split by images and threads") {
  // Heights 1 and 2 and odd ones (a one-row tail), widths around the tiles' (2, 3 and 4 columns by block), pads on
  // every side and beyond the kernel, horizontal stride 2 under vertical stride 1, and vertical stride 2 (no pairs).
  const Activation activations[] = {Activation::relu6(), Activation::none(), Activation::relu()};
  const std::int64_t sizes[][2] = {{1, 9}, {2, 7}, {3, 1}, {5, 2}, {7, 3}, {9, 5}, {6, 11}, {11, 4}};
  int index = 0;
  for (std::int64_t c : {16, 31, 32, 96, 144, 160, 192})
    for (const auto& hw : sizes) {
      ++index;
      QuantConvTester t;
      t.depthwise(c).hw(hw[0], hw[1]).k(3).batch(1 + index % 2).threads(1 + (index / 2) % 2);
      t.input_zero_point(index % 3 ? 5 : 240).activation(activations[index % 3]).bias(index % 5 != 0);
      t.output_zero_point(index % 4 == 0 ? 0 : 17);
      if (index % 4 == 1) t.pad(1);
      if (index % 4 == 2) t.pad(2, 0, 1, 3);
      if (index % 4 == 3) t.pad(0, 1, 2, 1);
      if (index % 6 == 5) t.stride(1, 2);
      if (index % 9 == 4) t.stride(2, 1);
      if (t.desc().oh <= 0 || t.desc().ow <= 0) continue;
      t.check<DepthwiseU8S8>();
    }
  // Two threads' parts of 27 rows meet at row 13: each part ends or starts with a row of its own.
  QuantConvTester().depthwise(144).hw(27, 64).k(3).pad(1).threads(2).check<DepthwiseU8S8>();
  // A weight set for the second row only where it is used.
  ConvDesc d;
  d.groups = d.ic = d.oc = 100, d.ih = d.iw = 8, d.kh = d.kw = 3, d.oh = d.ow = 6;
  const std::size_t pairs = DepthwiseU8S8::weight_bytes(d);
  d.sh = 2, d.oh = 3;
  CHECK(DepthwiseU8S8::weight_bytes(d) == pairs - 2 * 64 * 3 * 4);
}

TEST_CASE("depthwise_u8s8 folds the zero point into the rounding for Relu layers where the shifts allow it") {
  CHECK(kernels::u8s8_foldable(21, 255));
  CHECK_FALSE(kernels::u8s8_foldable(22, 0));  // zero_point * 2^22 could overflow int32 with the product
  CHECK_FALSE(kernels::u8s8_foldable(1, -1));
  CHECK_FALSE(kernels::u8s8_foldable(1, 256));
  ConvDesc d;
  d.groups = d.ic = d.oc = 40, d.ih = d.iw = 8, d.kh = d.kw = 3, d.pads = {1, 1, 1, 1}, d.oh = d.ow = 8;
  d.activation = Activation::relu6(), d.has_bias = false;
  Tensor w({40, 1, 3, 3});
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>(i % 7 - 3) * 0.1f;
  const auto plan = DepthwiseU8S8::plan(d, {w.view(), {}}, ConvQuant{{0.02f, 3}, {0.05f, 0}});
  INFO((plan ? std::string() : plan.error().what()));
  REQUIRE(plan);
  CHECK(plan->fold_zero_point == !plan->vnni_weights.empty());  // the VNNI kernel's form, when it is compiled
  CHECK(plan->clamp_bytes);  // Relu6 at scale 0.05: hi = 120
}

TEST_CASE("depthwise_u8s8 leaves out the byte clamp where the output range is the whole byte") {
  CHECK_FALSE(kernels::u8s8_clamp_needed(0, 255));
  CHECK(kernels::u8s8_clamp_needed(1, 255));
  CHECK(kernels::u8s8_clamp_needed(0, 254));
  // The forms a Relu/Relu6 layer meets: lo = 0 and hi = 255 (unclamped), a top inside the levels (a wider output
  // scale), a zero point above 0 (lo = 17); every channel-count case of the VNNI kernel, strides, pads, batches
  // and threads. Each is exact against the reference whichever form the plan chose; the plan's choice is checked.
  enum Form { whole_byte, top_inside, zero_point_above };
  const std::int64_t channels[] = {16, 31, 32, 96, 144, 160, 192};
  int index = 0;
  for (Form form : {whole_byte, top_inside, zero_point_above})
    for (std::int64_t stride : {1, 2})
      for (std::int64_t c : channels) {
        ++index;
        QuantConvTester t;
        t.depthwise(c).hw(5 + index % 7, 9 - index % 4).k(index % 5 == 0 ? 5 : 3).stride(stride);
        t.batch(1 + index % 2).threads(1 + (index / 2) % 2).input_zero_point(index % 3 ? 9 : 251);
        t.activation(index % 2 ? Activation::relu6() : Activation::relu()).bias(index % 4 != 0);
        if (index % 3 == 0) t.pad(1, 0, 2, 1);
        else if (index % 3 == 1) t.pad(t.desc().kh / 2);
        if (form == whole_byte) t.output_zero_point(0);
        if (form == top_inside) t.output_zero_point(0).output_scale_factor(3).activation(Activation::relu6());
        if (form == zero_point_above) t.output_zero_point(17);
        t.check<DepthwiseU8S8>();
      }
  // The plan's form for each (the VNNI kernel's; without it the plans clamp, as the other kernels always do).
  ConvDesc d;
  d.groups = d.ic = d.oc = 48, d.ih = d.iw = 8, d.kh = d.kw = 3, d.pads = {1, 1, 1, 1}, d.oh = d.ow = 8;
  d.activation = Activation::relu6(), d.has_bias = false;
  Tensor w({48, 1, 3, 3});
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>(i % 7 - 3) * 0.1f;
  auto clamps = [&](QuantParams out) {
    const auto plan = DepthwiseU8S8::plan(d, {w.view(), {}}, ConvQuant{{0.02f, 3}, out});
    REQUIRE(plan);
    CHECK(plan->fold_zero_point == !plan->vnni_weights.empty());
    return plan->clamp_bytes;
  };
  const bool vnni = !DepthwiseU8S8::plan(d, {w.view(), {}}, ConvQuant{{0.02f, 3}, {0.05f, 0}})->vnni_weights.empty();
  CHECK(clamps({6.0f / 255, 0}) == !vnni);  // Relu6 over the whole byte
  CHECK(clamps({6.0f / 200, 0}));            // its top at 200
  CHECK(clamps({6.0f / 255, 17}));           // lo = 17
  d.activation = Activation::relu();
  CHECK(clamps({0.01f, 0}) == !vnni);
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
TEST_CASE("the folded high_nonneg requantisation equals quant::requantize, negatives, ties and clamps included") {
  // 64 lanes as the depthwise kernel passes them; bytes come back in the packs' order: byte 16 l + 4 q + i holds
  // vector q's lane 4 l + i.
  Rng rng(11);
  alignas(64) std::int32_t v[64], mult[80] = {}, shift[64], high_shift[64], round[64], round_zp[64];
  alignas(64) std::uint8_t got[64];
  for (int trial = 0; trial < 1000; ++trial) {
    const auto zp = static_cast<std::int32_t>(rng.below(256));
    const auto lo = zp + static_cast<std::int32_t>(rng.below(static_cast<std::uint32_t>(256 - zp)));
    const auto hi = lo + static_cast<std::int32_t>(rng.below(static_cast<std::uint32_t>(256 - lo)));
    for (int i = 0; i < 64; ++i) {
      const int pick = static_cast<int>(rng.below(8));
      shift[i] = 33 + static_cast<std::int32_t>(rng.below(21));  // foldable: shift - 32 <= 21
      mult[i] = rng.below(4) == 0 ? std::int32_t{1} << 30 : static_cast<std::int32_t>((1u << 30) + rng.below(1u << 30));
      if (trial % 50 == 0 && i == 5) mult[i] = 0;
      v[i] = pick == 0   ? std::numeric_limits<std::int32_t>::min()
             : pick == 1 ? std::numeric_limits<std::int32_t>::max()
             : pick == 2 ? static_cast<std::int32_t>(rng.below(3)) - 1
             : pick == 3 ? std::int32_t{1} << std::min(30, shift[i] - 31)  // a rounding tie
                         : static_cast<std::int32_t>(rng.next_u32() >> rng.below(31)) * (rng.below(2) ? 1 : -1);
      REQUIRE(kernels::u8s8_high_form(mult[i], shift[i], high_shift[i], round[i]));
      REQUIRE(kernels::u8s8_foldable(high_shift[i], zp));
      round_zp[i] = round[i] + (zp << high_shift[i]);
    }
    const __m512i acc[4] = {_mm512_loadu_si512(v), _mm512_loadu_si512(v + 16), _mm512_loadu_si512(v + 32),
                            _mm512_loadu_si512(v + 48)};
    // The unclamped form where it applies: zero point and lo 0, hi 255 (every tenth trial).
    const bool whole_byte = trial % 10 == 0;
    const std::int32_t lo_used = whole_byte ? 0 : lo, hi_used = whole_byte ? 255 : hi;
    if (whole_byte)
      for (int i = 0; i < 64; ++i) round_zp[i] = round[i];
    const __m512i bytes =
        whole_byte ? kernels::u8s8_requantize64_folded<4, false>(acc, mult, high_shift, round_zp, 0, 255)
                   : kernels::u8s8_requantize64_folded(acc, mult, high_shift, round_zp, lo, hi);
    _mm512_storeu_si512(got, bytes);
    for (int l = 0; l < 4; ++l)
      for (int q = 0; q < 4; ++q)
        for (int i = 0; i < 4; ++i) {
          const int lane = 16 * q + 4 * l + i;
          const std::int32_t z = whole_byte ? 0 : zp;
          INFO("v " << v[lane] << " multiplier " << mult[lane] << " shift " << shift[lane] << " zp " << z << " lo "
                    << lo_used << " hi " << hi_used << (whole_byte ? " (unclamped form)" : ""));
          CHECK(got[16 * l + 4 * q + i] ==
                quant::requantize(v[lane], {mult[lane], shift[lane]}, z, lo_used, hi_used));
        }
  }
}
#endif

TEST_CASE("depthwise_u8s8 keeps 7-bit outputs within [0, 127] on every target, vector and scalar paths") {
  // What a network calibrated for AVX2 without VNNI feeds it: 7-bit inputs and outputs; outputs forced to clip at
  // 127 too (the tester checks every byte against the levels' top as well as against the reference).
  const Activation activations[] = {Activation::none(), Activation::relu(), Activation::relu6()};
  int index = 0;
  for (std::int64_t k : {3, 5})
    for (std::int64_t c : {3, 17, 64, 65, 130}) {
      ++index;
      QuantConvTester t;
      t.levels(quant::u8_7bit_range).depthwise(c).hw(9 + index % 4, 11).k(k).stride(1 + index % 2).pad(k / 2);
      t.input_zero_point(index % 2 ? 255 : 128).activation(activations[index % 3]).threads(1 + index % 2);
      if (index % 3 == 1) t.output_zero_point(255);
      t.check<DepthwiseU8S8>();
      t.check<DepthwiseU8S8>(&DepthwiseU8S8::run_scalar);
    }
}
