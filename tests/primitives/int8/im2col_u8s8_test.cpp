// Im2colU8S8 against the integer reference: kernels 1-7, strides 1-2, symmetric and asymmetric pads, dilation,
// groups, odd sizes, channel counts that straddle the 4-byte K groups and the 64-column tiles, batch 1-2,
// threads 1-2, input zero points at the byte's edges, with and without bias and fused Relu/Relu6; and 7-bit
// activations (what AVX2 without VNNI runs), with the saturation they avoid.
#include <catch2/catch.hpp>

#include <numeric>

#include "primsel/primitives/int8/im2col_u8s8.hpp"
#include "primsel/primitives/reference/conv_u8s8.hpp"
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

TEST_CASE("im2col_u8s8 on 7-bit activations is exact on every target, padding with zero points up to 127") {
  int index = 0;
  for (std::int64_t k : {1, 3, 5})
    for (std::int64_t ic : {1, 5, 17, 64})
      for (std::int64_t oc : {3, 17, 64}) {
        ++index;
        QuantConvTester t;
        t.levels(quant::u8_7bit_range).ic(ic).oc(oc).hw(9 + index % 5, 7 + index % 3).k(k).stride(1 + index % 2);
        t.input_zero_point(zero_points[index % 3]).bias(index % 4 != 1).activation(activations[(index / 3) % 3]);
        t.threads(1 + index % 2).pad(k / 2 + index % 2);
        t.check<Im2colU8S8>();
      }
  // The padding value at the top of the levels, outputs forced to clip at 127.
  QuantConvTester().levels(quant::u8_7bit_range).ic(33).oc(17).hw(13, 13).k(3).pad(2).input_zero_point(255)
      .output_zero_point(255).check<Im2colU8S8>();
}

TEST_CASE("im2col_u8s8: full-byte activations would saturate vpmaddubsw; 7-bit ones stay exact") {
  // Every weight at the s8 maximum (127) and every activation at the levels' top: vpmaddubsw's int16 pair sums
  // are 2 * 127 * 127 = 32258 for 7-bit activations (they fit) and 2 * 255 * 127 = 64770 for 8-bit ones (they
  // clip at 32767). The plan is made for 7-bit inputs; fed bytes of 255 (outside its contract) a 7-bit kernel
  // shows the wrong sums the levels avoid, while a full-byte kernel stays exact.
  const ConvDesc d{.ic = 8, .ih = 5, .iw = 5, .oc = 16, .oh = 5, .ow = 5, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  Tensor w({16, 8, 3, 3}), b({16});
  std::fill(w.floats().begin(), w.floats().end(), 1.0f);
  const QuantParams in{0.05f, 0, 127};
  const ConvQuant q{in, quant::choose_params(0.0f, 72 * 255 * in.scale, quant::u8_7bit_range)};
  const ConvWeights weights{w.view(), b.view()};
  auto qc = QuantizedConv::make(d, weights, q);
  REQUIRE(qc.ok());
  REQUIRE(qc->weight[0] == 127);
  auto plan = Im2colU8S8::plan(d, weights, q);
  REQUIRE(plan.ok());
  std::vector<std::byte> ws(Im2colU8S8::workspace_bytes(d, 1) + tensor_alignment);
  auto* aligned = reinterpret_cast<std::byte*>(
      (reinterpret_cast<std::uintptr_t>(ws.data()) + tensor_alignment - 1) & ~(tensor_alignment - 1));
  const Context ctx{nullptr, {aligned, Im2colU8S8::workspace_bytes(d, 1)}};
  const reference::ConvU8S8Params rp{qc->weight.data(), qc->stage.bias.data(), qc->stage.multiplier.data(),
                                     qc->stage.shift.data(), in.zero_point, q.output.zero_point, qc->stage.range};
  auto mismatches = [&](std::uint8_t value) {
    Tensor x({1, 8, 5, 5}, u8_nhwc, in), y({1, 16, 5, 5}, u8_nhwc, q.output);
    std::fill(x.data<std::uint8_t>(), x.data<std::uint8_t>() + x.size_bytes(), value);
    std::vector<std::uint8_t> expected(static_cast<std::size_t>(d.output_elements()));
    reference::conv2d_u8s8(d, x.data<std::uint8_t>(), rp, expected.data());
    Im2colU8S8::run(*plan, x.view(), y.view(), ctx);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) wrong += y.data<std::uint8_t>()[i] != expected[i];
    return wrong;
  };
  CHECK(mismatches(127) == 0);
  if (u8_activation_levels == quant::u8_7bit_range)
    CHECK(mismatches(255) == static_cast<std::size_t>(d.output_elements()));  // every output sums saturated pairs
  else
    CHECK(mismatches(255) == 0);
}
