// Conv1x1U8S8 against the integer reference: channel counts that straddle the 4-byte K groups (in place vs
// packed A) and the 64-column tiles, groups, odd sizes, batch folded into M, threads, zero point edges, bias and
// fused activations.
#include <catch2/catch.hpp>

#include <numeric>

#include "primsel/primitives/int8/conv1x1_u8s8.hpp"
#include "quant_conv_tester.hpp"

using namespace primsel;
using primsel::testing::QuantConvTester;

TEST_CASE("conv1x1_u8s8 is exact over a shape sweep") {
  const ConvDesc pointwise{};
  if (!Conv1x1U8S8::supports(pointwise)) {
    WARN("declined on this target: " << Conv1x1U8S8::supports(pointwise).why);
    return;
  }
  const Activation activations[] = {Activation::none(), Activation::relu(), Activation::relu6()};
  const std::int32_t zero_points[] = {0, 128, 255};
  const std::int64_t sizes[][2] = {{7, 7}, {13, 13}, {17, 17}, {1, 1}, {13, 7}};
  int index = 0;
  for (std::int64_t ic : {1, 3, 4, 5, 17, 33, 64, 100})
    for (std::int64_t oc : {1, 3, 5, 17, 33, 64, 65}) {
      ++index;
      const auto* hw = sizes[index % 5];
      QuantConvTester t;
      t.ic(ic).oc(oc).hw(hw[0], hw[1]).batch(1 + (index % 3 == 0)).threads(1 + (index / 2) % 2);
      t.input_zero_point(zero_points[index % 3]).bias(index % 4 != 1).activation(activations[(index / 3) % 3]);
      if (const std::int64_t g = std::gcd(ic, oc); index % 5 == 4 && g > 1) t.groups(g);
      t.check<Conv1x1U8S8>();
    }
}

TEST_CASE("conv1x1_u8s8: grouped with in-place and packed rows, large M over threads") {
  if (!Conv1x1U8S8::supports(ConvDesc{})) return;  // declined on this target (see int8_primitives_test)
  QuantConvTester().ic(64).oc(32).groups(4).hw(17, 17).threads(2).check<Conv1x1U8S8>();  // IC/g 16: in place
  QuantConvTester().ic(66).oc(33).groups(3).hw(13, 13).check<Conv1x1U8S8>();             // IC/g 22: packed
  QuantConvTester().ic(64).oc(64).hw(56, 56).batch(2).threads(2).activation(Activation::relu6()).check<Conv1x1U8S8>();
  const double e = QuantConvTester().ic(256).oc(64).hw(14, 14).check<Conv1x1U8S8>();
  CHECK(e <= 2.0);  // see the im2col accuracy test
}

TEST_CASE("conv1x1_u8s8 on MobileNet-shaped small-K layers (the kernels chosen by N), 1 and 2 threads") {
  if (!Conv1x1U8S8::supports(ConvDesc{})) return;  // declined on this target (see int8_primitives_test)
  int index = 0;
  for (std::int64_t ic : {16, 24, 32, 96})
    for (std::int64_t oc : {16, 24, 32, 96, 144, 160}) {
      ++index;
      QuantConvTester t;
      t.ic(ic).oc(oc).hw(index % 2 ? 14 : 9, 9).threads(1 + index % 2).input_zero_point(index % 3 ? 128 : 0);
      t.activation(index % 3 == 0 ? Activation::none() : Activation::relu6()).bias(index % 4 != 0);
      t.check<Conv1x1U8S8>();
    }
}

TEST_CASE("conv1x1_u8s8 on 7-bit activations is exact on every target") {
  const std::int32_t zero_points[] = {0, 128, 255};  // scaled to the levels: 0, 64, 127
  int index = 0;
  for (std::int64_t ic : {1, 4, 17, 64, 100})
    for (std::int64_t oc : {3, 16, 33, 65}) {
      ++index;
      QuantConvTester t;
      t.levels(quant::u8_7bit_range).ic(ic).oc(oc).hw(7 + index % 5, 9).batch(1 + index % 2).threads(1 + index % 2);
      t.input_zero_point(zero_points[index % 3]).activation(index % 2 ? Activation::relu6() : Activation::none());
      if (index % 7 == 3) t.output_zero_point(255);
      t.check<Conv1x1U8S8>();
    }
}
