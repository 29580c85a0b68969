// The int8 primitive list as a whole: the concept, unique names, supports() exact (every layer a primitive
// claims over a random sweep of layers runs bit-exactly), refusals with reasons, and plan()'s checks of the
// quantisation it is given.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "primsel/primitives/int8/default_int8_primitives.hpp"
#include "quant_conv_tester.hpp"

using namespace primsel;
using primsel::testing::QuantConvTester;

static_assert(DefaultInt8ConvPrimitives::size == 3);
static_assert(!ConvPrimitive<Im2colU8S8> && !ConvPrimitive<Conv1x1U8S8> && !ConvPrimitive<DepthwiseU8S8>,
              "int8 primitives must not be mistaken for f32 ones: plan() takes the quantisation");

TEST_CASE("supports() is exact: every layer a primitive claims in a random sweep runs bit-exactly") {
  Rng rng(2024);
  int claimed = 0;
  for (int i = 0; i < 150; ++i) {
    QuantConvTester t;
    const std::int64_t k = 1 + 2 * rng.below(3), groups = rng.below(3) == 0 ? 0 : 1;  // 0: depthwise
    const std::int64_t c = 1 + rng.below(40);
    if (groups == 0) t.depthwise(c);
    else t.ic(c).oc(1 + rng.below(40));
    t.hw(3 + rng.below(12), 3 + rng.below(12)).k(k, rng.below(4) == 0 ? 1 + 2 * rng.below(3) : k);
    t.stride(1 + rng.below(2), 1 + rng.below(2)).pad(rng.below(3), rng.below(3), rng.below(3), rng.below(3));
    if (rng.below(5) == 0) t.dilation(2, 1 + rng.below(2));
    t.batch(1 + rng.below(2)).threads(1 + rng.below(2)).input_zero_point(static_cast<std::int32_t>(rng.below(256)));
    t.bias(rng.below(2)).activation(rng.below(2) ? Activation::relu() : Activation::none()).seed(i);
    if (t.desc().oh <= 0 || t.desc().ow <= 0) continue;
    DefaultInt8ConvPrimitives::for_each([&]<class P>() {
      if (!P::supports(t.desc())) return;
      ++claimed;
      t.check<P>();
    });
  }
  INFO(claimed << " (layer, primitive) pairs claimed");
  // Every target claims the GEMM-based layers too (in its own levels: 7-bit without VNNI).
  CHECK(claimed > 100);
}

TEST_CASE("int8 primitives say why they decline") {
  ConvDesc conv3{.ic = 8, .ih = 9, .iw = 9, .oc = 8, .oh = 9, .ow = 9, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  CHECK(Conv1x1U8S8::supports(conv3).why == "kernel is not 1x1");
  CHECK(DepthwiseU8S8::supports(conv3).why == "not depthwise (groups = input = output channels)");
  ConvDesc dw = conv3;
  dw.groups = 8;
  CHECK(DepthwiseU8S8::supports(dw).ok);
  dw.kh = dw.kw = 7, dw.pads = {3, 3, 3, 3};
  CHECK(DepthwiseU8S8::supports(dw).why == "kernel is not 3x3 or 5x5");
  dw.kh = dw.kw = 3, dw.pads = {1, 1, 1, 1}, dw.sh = 3;
  CHECK(DepthwiseU8S8::supports(dw).why == "stride is not 1 or 2");
  dw.sh = 1, dw.dh = 2;
  CHECK(DepthwiseU8S8::supports(dw).why == "dilated");
  ConvDesc strided1x1{.ic = 8, .ih = 9, .iw = 9, .oc = 8, .oh = 5, .ow = 5, .sh = 2, .sw = 2};
  CHECK(Conv1x1U8S8::supports(strided1x1).why == "stride is not 1 (im2col_u8s8 gathers strided pixels)");
  ConvDesc huge = conv3;
  huge.ic = 4096;  // 9 * 4096 > 32768
  CHECK(!Im2colU8S8::supports(huge));
  // The kernel's activation range is the quantisation's business (plan() checks it), not the layer's.
  CHECK(Im2colU8S8::supports(conv3));
}

TEST_CASE("plan() checks the quantisation and the weights") {
  // Depthwise: the one int8 primitive every target supports (the checks are QuantizedConv's, shared by all).
  using P = DepthwiseU8S8;
  const ConvDesc d{.groups = 4, .ic = 4, .ih = 5, .iw = 5, .oc = 4, .oh = 5, .ow = 5, .kh = 3, .kw = 3,
                   .pads = {1, 1, 1, 1}};
  Tensor w({4, 1, 3, 3}), b({4});
  std::fill(w.floats().begin(), w.floats().end(), 0.5f);
  const ConvWeights weights{w.view(), b.view()};
  const ConvQuant ok{{0.1f, 128}, {0.2f, 3}};
  CHECK(P::plan(d, weights, ok).ok());
  CHECK(P::plan(d, weights, ConvQuant{{0.1f, 64, 127}, {0.2f, 127, 127}}).ok());  // 7-bit levels
  for (const ConvQuant& bad : {ConvQuant{{0.1f, 256}, {0.2f, 3}}, ConvQuant{{0.1f, 128}, {0.2f, -1}},
                               ConvQuant{{0.1f, 128, 127}, {0.2f, 3}}, ConvQuant{{0.1f, 0, 0}, {0.2f, 3}},
                               ConvQuant{{0.1f, 0}, {0.2f, 3, 256}},
                               ConvQuant{{0.0f, 128}, {0.2f, 3}}, ConvQuant{{0.1f, 128}, {std::nanf(""), 3}},
                               ConvQuant{{std::numeric_limits<float>::infinity(), 1}, {0.2f, 3}}}) {
    auto p = P::plan(d, weights, bad);
    REQUIRE(!p.ok());
    CHECK(p.error().code() == ErrorCode::invalid_argument);
  }
  // A multiplier beyond 2^30 cannot be represented.
  CHECK(!P::plan(d, weights, ConvQuant{{1e6f, 0}, {1e-6f, 0}}).ok());
  Tensor w_bad({4, 2, 3, 3});
  CHECK(P::plan(d, {w_bad.view(), b.view()}, ok).error().code() == ErrorCode::shape_mismatch);
  CHECK(P::plan(d, {w.view(), ConstTensorView{}}, ok).error().code() == ErrorCode::shape_mismatch);
  ConvDesc no_bias = d;
  no_bias.has_bias = false;
  CHECK(P::plan(no_bias, {w.view(), ConstTensorView{}}, ok).ok());
  CHECK(Conv1x1U8S8::plan(d, weights, ok).error().code() == ErrorCode::unsupported);
}

TEST_CASE("the GEMM-based primitives plan exactly the input levels this target's kernel is exact for") {
  const ConvDesc d{.ic = 8, .ih = 5, .iw = 5, .oc = 8, .oh = 5, .ow = 5, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1}};
  Tensor w({8, 8, 3, 3}), b({8});
  std::fill(w.floats().begin(), w.floats().end(), 0.5f);
  const ConvWeights weights{w.view(), b.view()};
  const QuantParams out = quant::choose_params(0.0f, 6.0f, u8_activation_levels);
  const ConvQuant seven{quant::choose_params(-1.0f, 1.0f, quant::u8_7bit_range), out};
  const ConvQuant eight{quant::choose_params(-1.0f, 1.0f, quant::u8_range), out};
  // 7-bit inputs run on every target (a full-byte kernel computes them as well).
  CHECK(Im2colU8S8::plan(d, weights, seven).ok());
  auto full = Im2colU8S8::plan(d, weights, eight);
  if (u8_activation_levels == quant::u8_range) {
    CHECK(full.ok());
  } else {
    REQUIRE(u8_activation_levels == quant::u8_7bit_range);
    REQUIRE(!full.ok());
    CHECK(full.error().code() == ErrorCode::invalid_argument);
    CHECK_THAT(full.error().what(), Catch::Contains("input levels [0, 255] exceed the u8s8 GEMM kernel's exact range [0, 127]"));
    ConvDesc pointwise = d;
    pointwise.kh = pointwise.kw = 1, pointwise.pads = {};
    Tensor w1({8, 8, 1, 1});
    std::fill(w1.floats().begin(), w1.floats().end(), 0.5f);
    CHECK(!Conv1x1U8S8::plan(pointwise, {w1.view(), b.view()}, eight).ok());
    CHECK(Conv1x1U8S8::plan(pointwise, {w1.view(), b.view()}, seven).ok());
  }
  // Depthwise widens to 32 bits on every target: the full byte is fine anywhere.
  ConvDesc dw = d;
  dw.groups = 8;
  Tensor wd({8, 1, 3, 3});
  CHECK(DepthwiseU8S8::plan(dw, {wd.view(), b.view()}, eight).ok());
}

TEST_CASE("with input means every int8 primitive runs its bias-corrected plan bit-exactly, with or without a bias") {
  Rng rng(77);
  int claimed = 0;
  for (int i = 0; i < 40; ++i) {
    QuantConvTester t;
    const std::int64_t k = 1 + 2 * rng.below(2), c = 1 + rng.below(40);
    if (rng.below(3) == 0) t.depthwise(c);
    else t.ic(c).oc(1 + rng.below(40)).groups(1);
    t.hw(3 + rng.below(10), 3 + rng.below(10)).k(k).stride(1 + rng.below(2)).pad(rng.below(2));
    t.batch(1 + rng.below(2)).threads(1 + rng.below(2)).input_zero_point(static_cast<std::int32_t>(rng.below(256)));
    t.bias(rng.below(2)).activation(rng.below(2) ? Activation::relu6() : Activation::none()).seed(i).bias_correction(true);
    DefaultInt8ConvPrimitives::for_each([&]<class P>() {
      if (!P::supports(t.desc())) return;
      ++claimed;
      t.check<P>();
    });
  }
  CHECK(claimed > 30);
}

TEST_CASE("bias correction cancels the shift the weights' rounding gives each output channel's mean") {
  // Inputs with large channel means (as after a Relu) and small spread: uncorrected, each output channel is off by
  // about sum (w_q - w) * mean, the same at every pixel; corrected, only the zero-mean part is left.
  for (const bool depthwise : {false, true}) {
    ConvDesc d{.n = 1, .ic = 16, .ih = 16, .iw = 16, .oc = 16, .oh = 16, .ow = 16, .kh = 3, .kw = 3, .pads = {1, 1, 1, 1},
               .has_bias = !depthwise};
    if (depthwise) d.groups = 16;
    INFO(to_string(d));
    Rng rng(5);
    Tensor x({1, d.ic, d.ih, d.iw}), w({d.oc, d.ic_per_group(), 3, 3}), b({d.oc});
    std::vector<float> means(static_cast<std::size_t>(d.ic));
    for (float& m : means) m = static_cast<float>(rng.uniform(1.0, 3.0));
    for (std::int64_t c = 0; c < d.ic; ++c)
      for (std::int64_t i = 0; i < d.ih * d.iw; ++i)
        x.data<float>()[c * d.ih * d.iw + i] = means[static_cast<std::size_t>(c)] + static_cast<float>(rng.uniform(-0.5, 0.5));
    for (float& v : w.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
    for (float& v : b.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));
    const QuantParams in_q = quant::choose_params(0.0f, 4.0f, u8_activation_levels);
    Tensor x_q({1, d.ic, d.ih, d.iw}, u8_nhwc);  // NHWC bytes
    std::vector<float> x_real(static_cast<std::size_t>(x.numel()));  // the dequantised input, NCHW
    for (std::int64_t c = 0; c < d.ic; ++c)
      for (std::int64_t i = 0; i < d.ih * d.iw; ++i) {
        const std::int32_t q = quant::quantize(x.data<float>()[c * d.ih * d.iw + i], in_q, u8_activation_levels);
        x_q.data<std::uint8_t>()[i * d.ic + c] = static_cast<std::uint8_t>(q);
        x_real[static_cast<std::size_t>(c * d.ih * d.iw + i)] = quant::dequantize(q, in_q);
      }
    const ConvParams cp{.kernel = {3, 3}, .stride = {1, 1}, .dilation = {1, 1}, .pads = d.pads, .groups = d.groups};
    Tensor y_f({1, d.oc, d.oh, d.ow});
    reference::conv2d(Tensor::from({1, d.ic, d.ih, d.iw}, x_real).view(), w.view(), d.has_bias ? b.data<float>() : nullptr,
                      cp, y_f.view());
    float lo = 0, hi = 0;
    for (float v : y_f.floats()) lo = std::min(lo, v), hi = std::max(hi, v);
    const QuantParams out_q = quant::choose_params(lo, hi, u8_activation_levels);
    const ConvWeights weights{w.view(), d.has_bias ? ConstTensorView(b.view()) : ConstTensorView{}};
    // Sum over channels of (mean over pixels of the int8 output's error)^2.
    auto mean_shift = [&](const ConvQuant& q) {
      auto qc = QuantizedConv::make(d, weights, q);
      REQUIRE(qc.ok());
      std::vector<std::uint8_t> y(static_cast<std::size_t>(d.output_elements()));
      reference::conv2d_u8s8(d, x_q.data<std::uint8_t>(),
                             {qc->weight.data(), qc->stage.bias.empty() ? nullptr : qc->stage.bias.data(),
                              qc->stage.multiplier.data(), qc->stage.shift.data(), in_q.zero_point, out_q.zero_point,
                              qc->stage.range},
                             y.data());
      double total = 0;
      const std::int64_t pixels = d.oh * d.ow;
      for (std::int64_t o = 0; o < d.oc; ++o) {
        double sum = 0;
        for (std::int64_t i = 0; i < pixels; ++i)
          sum += quant::dequantize(y[static_cast<std::size_t>(i * d.oc + o)], out_q) - y_f.data<float>()[o * pixels + i];
        total += (sum / static_cast<double>(pixels)) * (sum / static_cast<double>(pixels));
      }
      return total;
    };
    const double plain = mean_shift({in_q, out_q}), corrected = mean_shift({in_q, out_q, means});
    INFO("sum of squared per-channel mean errors: " << plain << " uncorrected, " << corrected << " corrected");
    CHECK(corrected < 0.25 * plain);
  }
}

TEST_CASE("bias correction needs one mean per input channel") {
  const ConvDesc d{.n = 1, .ic = 3, .ih = 4, .iw = 4, .oc = 2, .oh = 4, .ow = 4, .kh = 1, .kw = 1, .has_bias = false};
  Tensor w({2, 3, 1, 1});
  const QuantParams p{0.1f, 0};
  auto qc = QuantizedConv::make(d, {w.view(), {}}, {p, p, {1.0f, 2.0f}});
  REQUIRE_FALSE(qc.ok());
  CHECK_THAT(qc.error().what(), Catch::Contains("2 input channel means for 3 input channels"));
}
