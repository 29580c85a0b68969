// The contract of a quantised (u8 x s8) convolution primitive: ConvPrimitive's shape with one more plan() input,
// the layer's quantisation. Activations are uint8 NHWC, asymmetric per tensor; weights are quantised inside
// plan() from the f32 weights, symmetric per output channel (quant/quantize.hpp has the scheme):
//
//   struct MyConvU8S8 {
//     static constexpr std::string_view name = "my_conv_u8s8";      // unique among all primitives
//     static Support supports(const ConvDesc& d);                    // exact: see "What supports() promises"
//     static Format input_format(const ConvDesc& d);                 // {Layout::nhwc, DType::u8}
//     static Format output_format(const ConvDesc& d);                // {Layout::nhwc, DType::u8}
//     struct Plan { ... };
//     static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q);
//     static std::size_t workspace_bytes(const ConvDesc& d, int threads);
//     static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept;
//   };
//   static_assert(QuantConvPrimitive<MyConvU8S8>);
//
// What run() computes, for every output element (n, oc, oy, ox), exactly (reference/conv_u8s8.hpp is the oracle):
//   acc = sum over taps (x - q.input.zero_point) * w_q[oc][tap] + bias_q[oc]     (int32; padding taps read as the
//         input zero point, i.e. as real 0)
//   y   = quant::requantize(acc, M[oc], q.output.zero_point, lo, hi)
// with w_q, bias_q, M = q.input.scale * w_scale[oc] / q.output.scale and [lo, hi] = the fused activation's range
// (quant::activation_range) as QuantizedConv::make derives them. run() reads the quantisation from the plan, not
// from the views' QuantParams.
//
// What supports() promises: a layer it accepts plans and runs for every ConvQuant with finite positive scales,
// levels [0, qmax] within the byte with the zero point among them, requantisation multipliers in (0, 2^30) and,
// for the GEMM-based primitives, input levels within u8_activation_levels (plan() checks those: they are the
// caller's data, not the layer's). u8_activation_levels is the one place that says what the target's kernels
// need: the whole byte, or [0, 127] where the u8s8 micro-kernel is vpmaddubsw's (AVX2 without VNNI: it saturates
// on larger activations, and the padding value, the input zero point, is one of them). Calibration quantises a
// network's activations into it (runtime/calibration.hpp), and every u8 producer clamps to its output's qmax.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/quant/quantize.hpp"

namespace primsel {

/// The quantisation of a conv layer's activations: per-tensor u8 parameters of its input and its output.
///
///   ConvQuant q{.input = {0.02f, 128}, .output = quant::choose_params(0.0f, 6.0f)};
struct ConvQuant {
  QuantParams input, output;
  /// The input's mean per channel over the calibration samples: plan() then corrects the bias for the weights'
  /// rounding (quant::bias_corrected; a layer without a bias gets one). Empty: no correction.
  std::vector<float> input_mean;
  friend bool operator==(const ConvQuant&, const ConvQuant&) = default;
};

/// The format every int8 primitive reads and writes: u8, channels innermost (so a pixel's channels are one
/// contiguous GEMM row, and per-channel requantisation runs along a vector).
inline constexpr Format u8_nhwc{Layout::nhwc, DType::u8};

/// What plan() derives from the f32 weights and ConvQuant, the same for every int8 primitive and the reference:
/// weights quantised per output channel (OIHW order kept), and the per-channel output stage (Q31 multipliers,
/// int32 bias in the accumulator's scale, output zero point and clamp range from the fused activation).
struct QuantizedConv {
  std::vector<std::int8_t> weight;  ///< [OC][IC/g][KH][KW], symmetric, in [-127, 127]
  std::vector<float> weight_scale;  ///< [OC]
  gemm::U8S8OutputStage stage;      ///< multiplier/shift [OC], bias [OC] (empty without bias), zero point, range
  std::int32_t input_zero_point = 0;

  /// Fails on a weight of the wrong shape, a missing bias, or quantisation parameters outside what supports()
  /// promises (non-finite or non-positive scales, levels beyond the byte or a zero point outside them, multipliers
  /// outside (0, 2^30)). The output clamp stays within the output's levels [0, q.output.qmax].
  static Expected<QuantizedConv> make(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q) {
    const std::string layer = " for layer " + to_string(d);
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic_per_group(), d.kh, d.kw}) && w.weight.dtype() == DType::f32,
                  ErrorCode::shape_mismatch, "weight is " + to_string(w.weight.shape()) + layer);
    PRIMSEL_CHECK(!d.has_bias || (w.has_bias() && w.bias.shape() == Shape{d.oc}), ErrorCode::shape_mismatch,
                  "bias must have " + std::to_string(d.oc) + " elements" + layer);
    for (const QuantParams& p : {q.input, q.output})
      PRIMSEL_CHECK(quant::valid_u8(p), ErrorCode::invalid_argument,
                    "u8 quantisation (scale " + std::to_string(p.scale) + ", zero point " +
                        std::to_string(p.zero_point) + ", levels [0, " + std::to_string(p.qmax) +
                        "]) is not a positive finite scale with levels within [0, 255] and the zero point among them" +
                        layer);
    QuantizedConv c;
    c.input_zero_point = q.input.zero_point;
    const std::span<const float> wf(w.weight.data<float>(), static_cast<std::size_t>(d.weight_elements()));
    PRIMSEL_ASSIGN_OR_RETURN(auto qw, quant::quantize_weights_per_channel(wf, d.oc));
    c.weight = std::move(qw.values);
    c.weight_scale = std::move(qw.scales);
    std::span<const float> bias =
        d.has_bias ? std::span<const float>(w.bias.data<float>(), static_cast<std::size_t>(d.oc)) : std::span<const float>{};
    std::vector<float> corrected;
    if (!q.input_mean.empty()) {
      PRIMSEL_CHECK(q.input_mean.size() == static_cast<std::size_t>(d.ic), ErrorCode::invalid_argument,
                    std::to_string(q.input_mean.size()) + " input channel means for " + std::to_string(d.ic) +
                        " input channels" + layer);
      corrected = quant::bias_corrected(bias, wf, c.weight, c.weight_scale, q.input_mean, d.ic_per_group(),
                                        d.kh * d.kw, d.groups);
      bias = corrected;
    }
    PRIMSEL_ASSIGN_OR_RETURN(c.stage, gemm::U8S8OutputStage::create(q.input.scale, c.weight_scale, q.output, bias,
                                                                    d.activation.lo, d.activation.hi));
    return c;
  }
};

/// One primitive of the int8 family. run() allocates nothing and never fails; in and out are u8 NHWC views of
/// the layer's logical shapes.
template <class P>
concept QuantConvPrimitive = requires(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q,
                                      const typename P::Plan& plan, ConstTensorView in, TensorView out,
                                      const Context& ctx, int threads) {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::supports(d) } -> std::same_as<Support>;
  { P::input_format(d) } -> std::same_as<Format>;
  { P::output_format(d) } -> std::same_as<Format>;
  { P::plan(d, w, q) } -> std::same_as<Expected<typename P::Plan>>;
  { P::workspace_bytes(d, threads) } -> std::same_as<std::size_t>;
  { P::run(plan, in, out, ctx) } noexcept;
};

/// The u8 levels a network's activations are quantised into on this target: what the u8s8 GEMM micro-kernel is
/// exact for (quant::u8_range with VNNI or NEON dot products, quant::u8_7bit_range on AVX2 without VNNI).
inline constexpr quant::QRange u8_activation_levels = kernels::u8s8_default_ukernel.a_range;

namespace detail {
/// The GEMM-based primitives' plan() check: the input's levels must lie within what the micro-kernel is exact for.
inline Status check_gemm_input_levels(const ConvDesc& d, const QuantParams& in) {
  PRIMSEL_CHECK(in.qmax <= u8_activation_levels.hi, ErrorCode::invalid_argument,
                "input levels [0, " + std::to_string(in.qmax) + "] exceed the u8s8 GEMM kernel's exact range [0, " +
                    std::to_string(u8_activation_levels.hi) + "] (calibrate for u8_activation_levels) for layer " +
                    to_string(d));
  return {};
}
}  // namespace detail

}  // namespace primsel
