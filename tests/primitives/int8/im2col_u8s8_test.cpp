// Im2colU8S8 against the integer reference: kernels 1-7, strides 1-2, symmetric and asymmetric pads, dilation,
// groups, odd sizes, channel counts that straddle the 4-byte K groups and the 64-column tiles, batch 1-2,
// threads 1-2, input zero points at the byte's edges, with and without bias and fused Relu/Relu6.
#include <catch2/catch.hpp>

#include <numeric>

#include "primsel/primitives/int8/im2col_u8s8.hpp"
#include "quant_conv_tester.hpp"

using namespace primsel;
using primsel::testing::QuantConvTester;

namespace {
const Activation activations[] = {Activation::none(), Activation::relu(), Activation::relu6()};
const std::int32_t zero_points[] = {0, 128, 255};
}  // namespace

TEST_CASE("im2col_u8s8 is exact over a shape sweep") {
  if (!Im2colU8S8::supports(ConvDesc{})) {
    WARN("declined on this target: " << Im2colU8S8::supports(ConvDesc{}).why);
    return;
  }
  const std::int64_t sizes[][2] = {{7, 7}, {13, 13}, {17, 17}, {13, 7}, {7, 17}};
  int index = 0;
  for (std::int64_t k : {1, 3, 5, 7})
    for (std::int64_t ic : {1, 3, 5, 17, 33, 64})
      for (std::int64_t oc : {1, 5, 17, 64}) {
        ++index;
        const auto* hw = sizes[index % 5];
        QuantConvTester t;
        t.ic(ic).oc(oc).hw(hw[0], hw[1]).k(k).stride(1 + index % 2).batch(1 + (index % 3 == 0));
        t.threads(1 + (index / 2) % 2).input_zero_point(zero_points[index % 3]).bias(index % 4 != 1);
        t.activation(activations[(index / 3) % 3]);
        if (index % 4 == 2) t.pad(k / 2, k - 1, 0, k / 2);  // asymmetric
        else if (index % 4 != 3) t.pad(k / 2);
        if (index % 5 == 0 && hw[0] > 2 * k && hw[1] > 2 * k) t.dilation(2);
        if (const std::int64_t g = std::gcd(ic, oc); index % 6 == 5 && g > 1) t.groups(g);
        t.check<Im2colU8S8>();
      }
}

TEST_CASE("im2col_u8s8: groups, depthwise-shaped layers, strided 1x1, odd strides and dilations") {
  if (!Im2colU8S8::supports(ConvDesc{})) return;  // declined on this target (see int8_primitives_test)
  QuantConvTester().ic(64).oc(64).groups(4).hw(13, 13).k(3).pad(1).threads(2).check<Im2colU8S8>();
  QuantConvTester().ic(33).oc(66).groups(3).hw(7, 13).k(3).stride(2).pad(1, 0, 2, 1).check<Im2colU8S8>();
  QuantConvTester().depthwise(17).hw(17, 17).k(3).pad(1).input_zero_point(255).check<Im2colU8S8>();
  QuantConvTester().ic(6).oc(9).groups(3).hw(13, 13).k(5).dilation(2, 1).pad(2).batch(2).check<Im2colU8S8>();
  QuantConvTester().ic(64).oc(33).hw(17, 17).k(1).stride(2).threads(2).check<Im2colU8S8>();
  // Row blocks shared by two threads, the last one partial (961 rows in blocks of 192).
  QuantConvTester().ic(64).oc(70).hw(31, 31).k(3).pad(1).threads(2).check<Im2colU8S8>();
  QuantConvTester().ic(3).oc(64).hw(17, 13).k(7).stride(2).pad(3).activation(Activation::relu()).check<Im2colU8S8>();
  QuantConvTester().ic(5).oc(17).hw(13, 17).k(3, 5).stride(1, 2).pad(0, 2, 1, 2).check<Im2colU8S8>();
  // A pad wider than the kernel: whole rows of output see only padding (bias alone).
  QuantConvTester().ic(17).oc(5).hw(7, 7).k(3).pad(4).output_zero_point(0).check<Im2colU8S8>();
  // Zero points forced to the output's edges: results clip at 0 or 255.
  QuantConvTester().ic(33).oc(17).hw(13, 13).k(3).pad(1).output_zero_point(255).check<Im2colU8S8>();
  QuantConvTester().ic(33).oc(17).hw(13, 13).k(3).pad(1).output_zero_point(0).input_zero_point(0).check<Im2colU8S8>();
}

TEST_CASE("im2col_u8s8 on resnet-like layers stays within a few output scales of f32") {
  if (!Im2colU8S8::supports(ConvDesc{})) return;  // declined on this target (see int8_primitives_test)
  // The per-element bound is checked inside; on these realistic layers the error also stays small in absolute
  // terms: output rounding (1/2) plus weight rounding averaged over hundreds of taps (~1/4 scale) is ~1 scale.
  const double e1 = QuantConvTester().ic(64).oc(64).hw(14, 14).k(3).pad(1).check<Im2colU8S8>();
  const double e2 = QuantConvTester().ic(64).oc(128).hw(14, 14).k(3).stride(2).pad(1).check<Im2colU8S8>();
  const double e3 = QuantConvTester().ic(3).oc(64).hw(32, 32).k(7).stride(2).pad(3).check<Im2colU8S8>();
  INFO("largest errors in output scales: " << e1 << ", " << e2 << ", " << e3);
  CHECK(std::max({e1, e2, e3}) <= 2.0);
}
