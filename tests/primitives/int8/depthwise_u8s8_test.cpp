// DepthwiseU8S8 against the integer reference, through the target's vector path and the portable scalar path:
// 3x3 and 5x5, strides 1 and 2 (also mixed), no, symmetric, asymmetric and oversized pads, channel counts around
// the vector width and the VNNI kernel's 64-channel blocks (1, 3, 5, 17, 33, 64, 65, 130), odd sizes, batch 1-2,
// threads 1-2, zero point edges, bias, Relu/Relu6, and the VNNI kernel's general requantisation form.
#include <catch2/catch.hpp>

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
