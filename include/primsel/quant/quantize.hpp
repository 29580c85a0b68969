// int8 quantisation scheme (the TFLite / ONNX QLinear one): activations uint8 asymmetric per tensor
// (real = scale * (q - zero_point)), weights int8 symmetric per output channel (zero point 0, range [-127, 127]),
// int32 bias with scale in_scale * w_scale[oc], and integer-only requantisation of int32 accumulators by a Q31
// fixed-point multiplier. Written here (no header-only Debian package provides it); the formulas follow
// Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference"
// (CVPR 2018), with the single 64-bit rounding multiply-shift documented at `multiply_by_quantized_multiplier`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"

namespace primsel::quant {

/// Inclusive range of quantised values a tensor may take.
struct QRange {
  std::int32_t lo = 0, hi = 255;
  friend constexpr bool operator==(const QRange&, const QRange&) = default;
};

/// uint8 activations: the whole byte.
inline constexpr QRange u8_range{0, 255};
/// uint8 activations for kernels without a u8 x s8 dot product that go through vpmaddubsw (AVX2 without VNNI):
/// two 8-bit products summed into int16 saturate unless activations stay below 128 (127 * 127 * 2 < 32767).
inline constexpr QRange u8_7bit_range{0, 127};
/// int8 symmetric weights: -128 is left out so the range is symmetric and vpmaddubsw cannot saturate.
inline constexpr QRange s8_weight_range{-127, 127};

/// The u8 levels a tensor with parameters p takes: [0, p.qmax] (the whole byte, or 7 bits for vpmaddubsw).
constexpr QRange levels(QuantParams p) noexcept { return {0, p.qmax}; }

/// Parameters a u8 tensor can carry: a finite scale > 0, levels [0, qmax] within the byte, the zero point among them.
inline bool valid_u8(QuantParams p) noexcept {
  return std::isfinite(p.scale) && p.scale > 0 && p.qmax >= 1 && p.qmax <= u8_range.hi && p.zero_point >= 0 &&
         p.zero_point <= p.qmax;
}

// ---------------------------------------------------------------------------------------------------------------
// Choosing parameters, quantising and dequantising

/// Affine parameters covering [min, max] with the levels of `r`. The range is first widened to include 0, so that
/// real zero (zero padding, ReLU's floor) is represented exactly: the zero point is an integer in [r.lo, r.hi] and
/// dequantises to exactly 0. The zero point is rounded (nudged) from the ideal r.lo - min / scale, so the
/// represented range is [min, max] shifted by at most scale / 2. An empty range (both 0) gives scale 1. The
/// parameters' qmax is r.hi.
///
///   choose_params(-1.0f, 3.0f)                 ->  {scale 4/255, zero_point 64, qmax 255}
///   choose_params(-1.0f, 3.0f, u8_7bit_range)  ->  {scale 4/127, zero_point 32, qmax 127}
inline QuantParams choose_params(float min, float max, QRange r = u8_range) noexcept {
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const double span = static_cast<double>(max) - static_cast<double>(min);
  if (!(span > 0) || !std::isfinite(span)) return {1.0f, r.lo, r.hi};
  const auto scale = static_cast<float>(span / (r.hi - r.lo));
  const double ideal = r.lo - static_cast<double>(min) / scale;
  const auto zp = static_cast<std::int32_t>(std::clamp(std::round(ideal), double(r.lo), double(r.hi)));
  return {scale, zp, r.hi};
}

/// One value: round-half-to-even(x / scale) + zero_point, clamped to r (ONNX QuantizeLinear's rounding).
inline std::int32_t quantize(float x, QuantParams p, QRange r) noexcept {
  const float q = std::nearbyint(x / p.scale) + static_cast<float>(p.zero_point);
  // Compare in float before converting: NaN and huge values must not reach the int conversion.
  if (!(q > static_cast<float>(r.lo))) return r.lo;
  if (q >= static_cast<float>(r.hi)) return r.hi;
  return static_cast<std::int32_t>(q);
}

inline float dequantize(std::int32_t q, QuantParams p) noexcept {
  return p.scale * static_cast<float>(q - p.zero_point);
}

/// Quantises a span into uint8 or int8 (out.size() >= in.size()), clamping to r.
template <class T>
requires(std::is_same_v<T, std::uint8_t> ||
         std::is_same_v<T, std::int8_t>) void quantize(std::span<const float> in, QuantParams p, std::span<T> out,
                                                       QRange r) noexcept {
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<T>(quantize(in[i], p, r));
}
inline void quantize(std::span<const float> in, QuantParams p, std::span<std::uint8_t> out) noexcept {
  quantize(in, p, out, levels(p));
}

template <class T>
requires(std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int8_t> ||
         std::is_same_v<T, std::int32_t>) void dequantize(std::span<const T> in, QuantParams p,
                                                          std::span<float> out) noexcept {
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = dequantize(static_cast<std::int32_t>(in[i]), p);
}

/// Weights quantised per output channel: `values` has the layout of the float weights (channel-major: channel c
/// holds elements [c * per_channel, (c + 1) * per_channel), as OIHW does), `scales` one scale per channel.
struct ChannelWeights {
  std::vector<std::int8_t> values;
  std::vector<float> scales;
};

/// Symmetric per-channel quantisation: scale[c] = max|w_c| / 127, zero point 0, values in [-127, 127]. A channel
/// of zeros gets scale 1 (any scale represents it; 0 would make the requantisation multiplier 0/0).
inline Expected<ChannelWeights> quantize_weights_per_channel(std::span<const float> w, std::int64_t channels) {
  PRIMSEL_CHECK(channels > 0 && w.size() % static_cast<std::size_t>(channels) == 0, ErrorCode::invalid_argument,
                "quantize_weights_per_channel: " + std::to_string(w.size()) + " weights do not split into " +
                    std::to_string(channels) + " channels");
  const std::size_t per = w.size() / static_cast<std::size_t>(channels);
  ChannelWeights out;
  out.values.resize(w.size());
  out.scales.resize(static_cast<std::size_t>(channels));
  for (std::size_t c = 0; c < out.scales.size(); ++c) {
    const auto ch = w.subspan(c * per, per);
    float amax = 0;
    bool finite = true;  // std::max skips NaN, so amax alone would not show one
    for (float x : ch) amax = std::max(amax, std::fabs(x)), finite = finite && std::isfinite(x);
    PRIMSEL_CHECK(finite, ErrorCode::invalid_argument,
                  "quantize_weights_per_channel: channel " + std::to_string(c) + " has a non-finite weight");
    const float scale = amax > 0 ? amax / static_cast<float>(s8_weight_range.hi) : 1.0f;
    out.scales[c] = scale;
    quantize(ch, QuantParams{scale, 0}, std::span<std::int8_t>(out.values).subspan(c * per, per), s8_weight_range);
  }
  return out;
}

/// Bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction", 2019,
/// section 4.2): rounding the weights shifts output c's mean by sum_k (w_q[c][k] * scale[c] - w[c][k]) * E[x_k];
/// the returned bias (`bias` minus that shift; an empty `bias` reads as zeros) cancels it. `wq` and `scales` are
/// quantize_weights_per_channel's output for `w`; `input_mean` holds E[x] per input channel (from calibration);
/// weights are channel-major with in_per_group * taps elements per output channel and output channel c reading
/// input channels [g * in_per_group, (g + 1) * in_per_group), g = c / (channels / groups) (OIHW convolutions,
/// grouped and depthwise too; a fully-connected layer is taps = 1, groups = 1). Zero padding reads 0, not the mean:
/// border outputs of a padded convolution are slightly over-corrected.
/// Measured (mobilenet_v2, pseudo-random weights, 8 calibration samples, every layer int8): relative output error
/// 0.0242 -> 0.0120 (most of an int8 weight's rounding error on post-Relu inputs is this mean shift).
inline std::vector<float> bias_corrected(std::span<const float> bias, std::span<const float> w,
                                         std::span<const std::int8_t> wq, std::span<const float> scales,
                                         std::span<const float> input_mean, std::int64_t in_per_group,
                                         std::int64_t taps, std::int64_t groups) {
  const auto channels = static_cast<std::int64_t>(scales.size());
  const std::int64_t per = in_per_group * taps, out_per_group = channels / std::max<std::int64_t>(groups, 1);
  std::vector<float> out(scales.size());
  for (std::int64_t c = 0; c < channels; ++c) {
    double shift = 0;
    const std::int64_t first_in = c / out_per_group * in_per_group;
    for (std::int64_t i = 0; i < in_per_group; ++i) {
      double err = 0;  // summed over the channel's taps: they all read the same mean
      for (std::int64_t t = 0; t < taps; ++t) {
        const auto k = static_cast<std::size_t>(c * per + i * taps + t);
        err += static_cast<double>(wq[k]) * scales[static_cast<std::size_t>(c)] - w[k];
      }
      shift += err * input_mean[static_cast<std::size_t>(first_in + i)];
    }
    const auto cs = static_cast<std::size_t>(c);
    out[cs] = (bias.empty() ? 0.0f : bias[cs]) - static_cast<float>(shift);
  }
  return out;
}

/// int32 bias: round(bias[c] / (in_scale * w_scale[c])), saturated to int32 (the scale the accumulator has).
inline std::vector<std::int32_t> quantize_bias(std::span<const float> bias, float in_scale,
                                               std::span<const float> w_scales) {
  std::vector<std::int32_t> out(bias.size());
  for (std::size_t c = 0; c < bias.size(); ++c) {
    const double q = std::round(static_cast<double>(bias[c]) / (static_cast<double>(in_scale) * w_scales[c]));
    out[c] = static_cast<std::int32_t>(std::clamp(q, -2147483648.0, 2147483647.0));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Requantisation

/// A positive real multiplier as multiplier * 2^-shift with multiplier a Q31 value in [2^30, 2^31) (or 0) and
/// shift in [1, 62]: reals in about [2^-32, 2^30) are represented with relative error <= 2^-31; smaller ones
/// become 0 (every int32 accumulator then requantises to 0: |acc| * real < 1/2).
struct FixedPointMultiplier {
  std::int32_t multiplier = 0;
  std::int32_t shift = 31;
  friend constexpr bool operator==(const FixedPointMultiplier&, const FixedPointMultiplier&) = default;
  double real() const noexcept { return std::ldexp(static_cast<double>(multiplier), -shift); }
};

/// The fixed-point form of `real` (> 0, finite, < 2^30): real = q * 2^e with q in [0.5, 1) (frexp), multiplier =
/// round(q * 2^31), shift = 31 - e; a q that rounds up to 2^31 is halved and the exponent raised.
inline Expected<FixedPointMultiplier> quantize_multiplier(double real) {
  PRIMSEL_CHECK(real > 0 && real < 1073741824.0, ErrorCode::invalid_argument,
                "requantisation multiplier " + std::to_string(real) + " is not in (0, 2^30)");
  int e = 0;
  const double q = std::frexp(real, &e);
  auto m = static_cast<std::int64_t>(std::round(q * 2147483648.0));
  if (m == (std::int64_t{1} << 31)) m /= 2, ++e;
  if (31 - e > 62) return FixedPointMultiplier{0, 31};
  PRIMSEL_CHECK(31 - e >= 1, ErrorCode::invalid_argument,
                "requantisation multiplier " + std::to_string(real) + " rounds up to 2^30");
  return FixedPointMultiplier{static_cast<std::int32_t>(m), 31 - e};
}

/// acc * multiplier * 2^-shift rounded to nearest, ties away from zero, computed exactly in 64 bits:
///   sign(acc) * ((|acc| * multiplier + 2^(shift-1)) >> shift)
/// |acc| <= 2^31 and multiplier < 2^31 keep the product below 2^62, so nothing overflows and the result is the
/// correctly rounded value of the exact product acc * multiplier / 2^shift (it differs from rounding the double
/// acc * real only through multiplier's own rounding, by at most one unit). One multiply-shift rather than
/// gemmlowp's two roundings (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), which can round twice.
/// Working on the magnitude makes ties symmetric; SIMD kernels do the same with an unsigned 32x32->64 multiply.
constexpr std::int64_t multiply_by_quantized_multiplier(std::int32_t acc, FixedPointMultiplier m) noexcept {
  const std::uint64_t mag = acc < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(static_cast<std::int64_t>(acc))
                                    : static_cast<std::uint64_t>(acc);
  const std::uint64_t r =
      (mag * static_cast<std::uint32_t>(m.multiplier) + (std::uint64_t{1} << (m.shift - 1))) >> m.shift;
  return acc < 0 ? -static_cast<std::int64_t>(r) : static_cast<std::int64_t>(r);
}

/// Output stage of an int8 layer: q = clamp(round(acc * multiplier) + zero_point, lo, hi). `lo`/`hi` are the
/// output type's range, tightened by a fused activation (see activation_range).
constexpr std::int32_t requantize(std::int32_t acc, FixedPointMultiplier m, std::int32_t zero_point, std::int32_t lo,
                                  std::int32_t hi) noexcept {
  const std::int64_t v = multiply_by_quantized_multiplier(acc, m) + zero_point;
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(v, lo, hi));
}

/// Per output channel multipliers in_scale * w_scale[c] / out_scale.
inline Expected<std::vector<FixedPointMultiplier>> channel_multipliers(float in_scale, std::span<const float> w_scales,
                                                                       float out_scale) {
  std::vector<FixedPointMultiplier> out;
  out.reserve(w_scales.size());
  for (float ws : w_scales) {
    PRIMSEL_ASSIGN_OR_RETURN(auto m, quantize_multiplier(static_cast<double>(in_scale) * ws / out_scale));
    out.push_back(m);
  }
  return out;
}

/// The quantised clamp bounds of a fused activation that clamps real values to [lo, hi] (Relu: [0, inf), Relu6:
/// [0, 6], none: infinities), intersected with the output range r. A bound is rounded as quantize() rounds it, so
/// clamping in the integer domain equals clamping the real value then quantising.
inline QRange activation_range(float lo, float hi, QuantParams out, QRange r) noexcept {
  QRange q = r;
  if (std::isfinite(lo)) q.lo = std::max(r.lo, quantize(lo, out, r));
  if (std::isfinite(hi)) q.hi = std::min(r.hi, quantize(hi, out, r));
  return q;
}
/// The same within the output's own levels (levels(out)): a 7-bit tensor's producer never writes above 127.
inline QRange activation_range(float lo, float hi, QuantParams out) noexcept {
  return activation_range(lo, hi, out, levels(out));
}

}  // namespace primsel::quant
