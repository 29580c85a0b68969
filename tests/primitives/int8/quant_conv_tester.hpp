// QuantConvTester: the shared check of every int8 convolution primitive, ConvTester's counterpart.
//
//   QuantConvTester().ic(17).oc(33).hw(13, 7).k(3).stride(2).pad(1).input_zero_point(255).check<Im2colU8S8>();
//
// It fills a u8 NHWC input within the levels (by default the target's, u8_activation_levels: [0, 255], or [0, 127]
// where the GEMM kernel is 7-bit; extremes and the zero point often), f32 weights whose channels span 16x in
// magnitude (one channel all zero) and an f32 bias; chooses the output quantisation from the f32 result's range
// over the same levels (or forces its zero point); zero points are given on the byte's scale and scaled to the
// levels (255 -> 127, 128 -> 64 for 7 bits), so one sweep tests the edges and the middle of either. It checks:
//  1. exact: the primitive's bytes equal reference::conv2d_u8s8 on the same QuantizedConv, bit for bit (the
//     output is poisoned twice, with 0x00 and 0xFF, so a skipped element cannot pass by luck), and every output
//     byte lies within the output's levels;
//  2. accurate: dequantised, each output is within its error bound of the f32 reference conv run on the
//     dequantised input with the f32 weights (see accuracy_bound below).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "primsel/core/layout_convert.hpp"
#include "primsel/core/random.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"
#include "primsel/primitives/reference/conv.hpp"
#include "primsel/primitives/reference/conv_u8s8.hpp"

namespace primsel::testing {

class QuantConvTester {
 public:
  QuantConvTester& batch(std::int64_t n) { d_.n = n; return *this; }
  QuantConvTester& ic(std::int64_t c) { d_.ic = c; return *this; }
  QuantConvTester& oc(std::int64_t c) { d_.oc = c; return *this; }
  QuantConvTester& hw(std::int64_t h, std::int64_t w) { d_.ih = h, d_.iw = w; return *this; }
  QuantConvTester& k(std::int64_t kh, std::int64_t kw = 0) { d_.kh = kh, d_.kw = kw ? kw : kh; return *this; }
  QuantConvTester& stride(std::int64_t sh, std::int64_t sw = 0) { d_.sh = sh, d_.sw = sw ? sw : sh; return *this; }
  QuantConvTester& dilation(std::int64_t dh, std::int64_t dw = 0) { d_.dh = dh, d_.dw = dw ? dw : dh; return *this; }
  QuantConvTester& pad(std::int64_t p) { d_.pads = {p, p, p, p}; return *this; }
  QuantConvTester& pad(std::int64_t top, std::int64_t left, std::int64_t bottom, std::int64_t right) {
    d_.pads = {top, left, bottom, right};
    return *this;
  }
  QuantConvTester& groups(std::int64_t g) { d_.groups = g; return *this; }
  QuantConvTester& depthwise(std::int64_t channels) { d_.groups = d_.ic = d_.oc = channels; return *this; }
  QuantConvTester& bias(bool b) { d_.has_bias = b; return *this; }
  QuantConvTester& activation(Activation a) { d_.activation = a; return *this; }
  QuantConvTester& threads(int t) { threads_ = t; return *this; }
  QuantConvTester& input_zero_point(std::int32_t z) { in_zp_ = z; return *this; }
  /// Forces the output zero point (the scale still covers the f32 result's span): outputs then clip at an edge.
  QuantConvTester& output_zero_point(std::int32_t z) { out_zp_ = z; return *this; }
  /// Widens the output scale f times (a range calibrated on more than this layer's outputs): a Relu6's top then
  /// lands inside the levels, so the output is clamped below qmax.
  QuantConvTester& output_scale_factor(float f) { out_scale_factor_ = f; return *this; }
  QuantConvTester& seed(std::uint64_t s) { seed_ = s; return *this; }
  /// Plans with the input's channel means (ConvQuant::input_mean): the bias is corrected for the weights' rounding.
  QuantConvTester& bias_correction(bool on) { bias_correction_ = on; return *this; }
  /// The activations' levels (input and output): quant::u8_range or quant::u8_7bit_range.
  QuantConvTester& levels(quant::QRange r) { levels_ = r; return *this; }

  ConvDesc desc() const {
    ConvDesc d = d_;
    d.oh = window_output_size(d.ih, d.kh, d.sh, d.pads.top, d.pads.bottom, d.dh);
    d.ow = window_output_size(d.iw, d.kw, d.sw, d.pads.left, d.pads.right, d.dw);
    return d;
  }

  template <class P>
  using RunFn = void (*)(const typename P::Plan&, ConstTensorView, TensorView, const Context&) noexcept;

  /// Checks P (through `run`, by default P::run) on the layer; returns the largest error in output scales.
  template <QuantConvPrimitive P>
  double check(RunFn<P> run = &P::run) const {
    const ConvDesc d = desc();
    const std::int32_t qmax = levels_.hi, in_zp = in_zp_ * qmax / 255;
    INFO(P::name << " on " << to_string(d) << " with " << threads_ << " thread(s), input zero point " << in_zp
                 << ", levels [0, " << qmax << "]");
    REQUIRE(d.oh > 0);
    REQUIRE(d.ow > 0);
    const Support s = P::supports(d);
    INFO("declined: " << s.why);
    REQUIRE(s.ok);

    Rng rng(seed_ * 7919 + static_cast<std::uint64_t>(d.ic * 31 + d.oc * 7 + d.kh));
    const QuantParams in_q{0.05f, in_zp, qmax};
    Tensor x_q({d.n, d.ic, d.ih, d.iw}, u8_nhwc);
    for (std::uint8_t& v : std::span(x_q.data<std::uint8_t>(), x_q.size_bytes())) {
      const std::uint32_t pick = rng.below(8);
      v = static_cast<std::uint8_t>(pick == 0   ? 0
                                    : pick == 1 ? qmax
                                    : pick == 2 ? in_zp
                                                : rng.below(static_cast<std::uint32_t>(qmax) + 1));
    }
    Tensor w({d.oc, d.ic_per_group(), d.kh, d.kw}), b({d.oc});
    const std::int64_t per = d.weight_elements() / d.oc;
    for (std::int64_t o = 0; o < d.oc; ++o) {
      const double magnitude = o % 11 == 7 ? 0.0 : std::ldexp(1.0, static_cast<int>(o % 5) - 4);
      for (std::int64_t i = 0; i < per; ++i)
        w.data<float>()[o * per + i] = static_cast<float>(magnitude * rng.uniform(-1.0, 1.0));
    }
    for (float& v : b.floats()) v = static_cast<float>(rng.uniform(-1.0, 1.0));

    // The f32 reference on the dequantised input: what the int8 result approximates.
    Tensor x_real = to_layout(x_q, Layout::nchw).value();
    std::vector<float> real_in(static_cast<std::size_t>(x_real.numel()));
    for (std::size_t i = 0; i < real_in.size(); ++i)
      real_in[i] = quant::dequantize(x_real.data<std::uint8_t>()[i], in_q);
    Tensor x_f = Tensor::from({d.n, d.ic, d.ih, d.iw}, real_in);
    const ConvParams cp{.kernel = {d.kh, d.kw}, .stride = {d.sh, d.sw}, .dilation = {d.dh, d.dw}, .pads = d.pads,
                        .groups = d.groups, .activation = d.activation};
    Tensor y_f({d.n, d.oc, d.oh, d.ow});
    reference::conv2d(x_f.view(), w.view(), d.has_bias ? b.data<float>() : nullptr, cp, y_f.view());
    float lo = 0, hi = 0;
    for (float v : y_f.floats()) lo = std::min(lo, v), hi = std::max(hi, v);
    QuantParams out_q = quant::choose_params(lo, hi, levels_);
    if (out_zp_ >= 0) out_q.zero_point = out_zp_ * qmax / 255;
    out_q.scale *= out_scale_factor_;
    std::vector<float> means;
    if (bias_correction_) {
      means.assign(static_cast<std::size_t>(d.ic), 0.0f);
      const std::int64_t plane = d.ih * d.iw;
      for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t c = 0; c < d.ic; ++c)
          for (std::int64_t i = 0; i < plane; ++i)
            means[static_cast<std::size_t>(c)] += x_f.data<float>()[(n * d.ic + c) * plane + i] / static_cast<float>(d.n * plane);
    }
    const ConvQuant q{in_q, out_q, means};
    INFO("output quantisation: scale " << out_q.scale << ", zero point " << out_q.zero_point);

    const ConvWeights weights{w.view(), d.has_bias ? ConstTensorView(b.view()) : ConstTensorView{}};
    auto qc = QuantizedConv::make(d, weights, q);
    INFO((qc.ok() ? "" : qc.error().what()));
    REQUIRE(qc.ok());
    std::vector<std::uint8_t> expected(static_cast<std::size_t>(d.output_elements()));
    const reference::ConvU8S8Params rp{qc->weight.data(),
                                       qc->stage.bias.empty() ? nullptr : qc->stage.bias.data(),
                                       qc->stage.multiplier.data(),
                                       qc->stage.shift.data(),
                                       in_zp,
                                       out_q.zero_point,
                                       qc->stage.range};
    reference::conv2d_u8s8(d, x_q.data<std::uint8_t>(), rp, expected.data());

    auto plan = P::plan(d, weights, q);
    INFO((plan.ok() ? "" : plan.error().what()));
    REQUIRE(plan.ok());
    REQUIRE(P::input_format(d) == u8_nhwc);
    REQUIRE(P::output_format(d) == u8_nhwc);
    ThreadPool pool(threads_);
    const std::size_t ws_bytes = P::workspace_bytes(d, threads_);
    std::vector<std::byte> scratch(ws_bytes + tensor_alignment);
    auto* aligned = reinterpret_cast<std::byte*>(
        (reinterpret_cast<std::uintptr_t>(scratch.data()) + tensor_alignment - 1) & ~(tensor_alignment - 1));
    const Context ctx{&pool, {aligned, ws_bytes}};
    Tensor y({d.n, d.oc, d.oh, d.ow}, u8_nhwc, out_q);
    for (int poison : {0x00, 0xFF}) {
      std::memset(y.bytes(), poison, y.size_bytes());
      run(*plan, x_q.view(), y.view(), ctx);
      std::size_t mismatches = 0, first = 0, above = 0;
      for (std::size_t i = 0; i < expected.size(); ++i) {
        if (y.data<std::uint8_t>()[i] != expected[i] && mismatches++ == 0) first = i;
        above += y.data<std::uint8_t>()[i] > qmax;
      }
      INFO(above << " output bytes above the levels' top " << qmax);
      CHECK(above == 0);
      INFO("output poisoned with " << poison << ": " << mismatches << " of " << expected.size()
                                   << " bytes differ; first at NHWC offset " << first << " (channel "
                                   << first % static_cast<std::size_t>(d.oc) << "): expected "
                                   << int(expected[first]) << ", got " << int(y.data<std::uint8_t>()[first]));
      REQUIRE(mismatches == 0);
    }
    return accuracy(d, x_f, *qc, q, y_f, y);
  }

 private:
  /// Per element, |dequantised int8 output - f32 reference| <= accuracy_bound, where (in real units)
  ///   output rounding:     s_out / 2 (+ the Q31 multiplier's relative error 2^-31, negligible)
  ///   activation bounds:   s_out / 2 (quantised clamp bounds are the real ones rounded to the grid)
  ///   weight rounding:     s_w[oc] / 2 * sum over the window of |x|   (each weight off by <= s_w / 2)
  ///   bias rounding:       s_in * s_w[oc] / 2
  ///   bias correction:     s_w[oc] / 2 * sum over the window of |input mean| (the shift it subtracts is at most that)
  /// plus f32 accumulation noise in the reference (1e-5 of the sum of |x * w|). Both results are compared after
  /// clamping to the range the u8 output can represent.
  static double accuracy(const ConvDesc& d, const Tensor& x_f, const QuantizedConv& qc, const ConvQuant& q,
                         const Tensor& y_f, const Tensor& y) {
    // Window sums of |x| per output channel's group: the f32 conv of |x| with all-one weights.
    Tensor x_abs = x_f, ones({d.oc, d.ic_per_group(), d.kh, d.kw}), sums({d.n, d.oc, d.oh, d.ow});
    for (float& v : x_abs.floats()) v = std::fabs(v);
    std::fill(ones.floats().begin(), ones.floats().end(), 1.0f);
    const ConvParams cp{.kernel = {d.kh, d.kw}, .stride = {d.sh, d.sw}, .dilation = {d.dh, d.dw}, .pads = d.pads,
                        .groups = d.groups};
    reference::conv2d(x_abs.view(), ones.view(), nullptr, cp, sums.view());
    const double s_out = q.output.scale, s_in = q.input.scale;
    std::vector<double> mean_window(static_cast<std::size_t>(d.oc), 0.0);  // per output channel: taps * sum |mean|
    if (!q.input_mean.empty())
      for (std::int64_t o = 0; o < d.oc; ++o)
        for (std::int64_t i = 0; i < d.ic_per_group(); ++i)
          mean_window[static_cast<std::size_t>(o)] +=
              d.kh * d.kw * std::fabs(q.input_mean[static_cast<std::size_t>(o / (d.oc / d.groups) * d.ic_per_group() + i)]);
    const double lo = quant::dequantize(qc.stage.range.lo, q.output), hi = quant::dequantize(qc.stage.range.hi, q.output);
    double worst = 0, worst_excess = -1;
    std::size_t violations = 0;
    for (std::int64_t n = 0; n < d.n; ++n)
      for (std::int64_t o = 0; o < d.oc; ++o)
        for (std::int64_t i = 0; i < d.oh * d.ow; ++i) {
          const std::int64_t nchw = (n * d.oc + o) * d.oh * d.ow + i, nhwc = (n * d.oh * d.ow + i) * d.oc + o;
          const double ref = std::clamp(static_cast<double>(y_f.data<float>()[nchw]), lo, hi);
          const double got = quant::dequantize(y.data<std::uint8_t>()[nhwc], q.output);
          const double sw = qc.weight_scale[static_cast<std::size_t>(o)], window = sums.data<float>()[nchw];
          const double bound = s_out * (1 + 1e-5) + sw / 2 * (window + s_in + mean_window[static_cast<std::size_t>(o)]) +
                               1e-5 * window * 127 * sw;
          const double err = std::fabs(got - ref);
          worst = std::max(worst, err / s_out);
          worst_excess = std::max(worst_excess, err - bound);
          violations += err > bound;
        }
    INFO("largest error " << worst << " output scales; " << violations << " outputs beyond their bound (by up to "
                          << worst_excess << ")");
    CHECK(violations == 0);
    return worst;
  }

  ConvDesc d_{.ic = 1, .ih = 5, .iw = 5, .oc = 1};
  int threads_ = 1;
  std::int32_t in_zp_ = 128, out_zp_ = -1;
  float out_scale_factor_ = 1;
  std::uint64_t seed_ = 1;
  quant::QRange levels_ = u8_activation_levels;
  bool bias_correction_ = false;
};

}  // namespace primsel::testing
