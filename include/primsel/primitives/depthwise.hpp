// Depthwise convolution (groups = IC = OC) on the channel-blocked layout (nchw8c, or nchw16c when a vector holds
// 16 floats): one block of channels is one or two vector registers, so every tap is a vector FMA of a packed
// weight and a contiguous input load — no gathers, any kernel, stride, padding and dilation. Bias and clamp are
// fused. MobileNet's 3x3 depthwise layers are memory-bound; this keeps them at load bandwidth.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"

namespace primsel {

/// The blocked layout whose block is a whole number of vectors, at least 8 wide.
inline constexpr Layout native_blocked_layout = simd::width >= 16 ? Layout::nchw16c : Layout::nchw8c;

struct Depthwise {
  static constexpr std::string_view name = "depthwise_nchwc";
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr std::int64_t vecs = block / static_cast<std::int64_t>(simd::width);

  struct Plan {
    ConvDesc desc;
    Tensor weights;  // [C/block][KH][KW][block], tail channels zero
    Tensor bias;     // [C/block * block], zero when the layer has none
  };

  static Support supports(const ConvDesc& d) {
    if (!d.is_depthwise()) return Support::no("not depthwise (groups = input = output channels)");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {native_blocked_layout}; }
  static Format output_format(const ConvDesc&) { return {native_blocked_layout}; }
  static std::size_t workspace_bytes(const ConvDesc&, int) { return 0; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, 1, d.kh, d.kw}), ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " for layer " + to_string(d));
    const std::int64_t cb = (d.oc + block - 1) / block;
    Plan p{d, {}, {}};
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, Tensor::create({cb, d.kh, d.kw, block}));
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, cb * block));
    const float* src = w.weight.data<float>();
    float* dst = p.weights.data<float>();
    for (std::int64_t c = 0; c < d.oc; ++c)
      for (std::int64_t t = 0; t < d.kh * d.kw; ++t) dst[((c / block) * d.kh * d.kw + t) * block + c % block] = src[c * d.kh * d.kw + t];
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t cb = (d.oc + block - 1) / block;
    // Work items: (image, channel block, output row).
    const std::int64_t rows = d.n * cb * d.oh;
    auto work = [&](std::int64_t begin, std::int64_t end, int) {
      for (std::int64_t item = begin; item < end; ++item) row(p, in, out, item / (cb * d.oh), item / d.oh % cb, item % d.oh);
    };
    if (ctx.pool)
      ctx.pool->parallel_for(rows, work);
    else
      work(0, rows, 0);
  }

 private:
  static void row(const Plan& p, ConstTensorView in, TensorView out, std::int64_t n, std::int64_t c, std::int64_t oy) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
    const ConvDesc& d = p.desc;
    const std::int64_t cb = (d.oc + block - 1) / block;
    const float* x = in.data<float>() + (n * cb + c) * d.ih * d.iw * block;
    float* y = out.data<float>() + ((n * cb + c) * d.oh + oy) * d.ow * block;
    const float* wt = p.weights.data<float>() + c * d.kh * d.kw * block;
    const FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
    FloatVec bias[vecs];
    for (int v = 0; v < vecs; ++v) bias[v] = simd::load_aligned(p.bias.data<float>() + c * block + v * W);
    // Kernel rows inside the input for this output row.
    const std::int64_t iy0 = oy * d.sh - d.pads.top;
    const std::int64_t r_lo = std::clamp<std::int64_t>((-iy0 + d.dh - 1) / d.dh, 0, d.kh);
    const std::int64_t r_hi = std::clamp<std::int64_t>((d.ih - iy0 + d.dh - 1) / d.dh, r_lo, d.kh);
    for (std::int64_t ox = 0; ox < d.ow; ++ox) {
      const std::int64_t ix0 = ox * d.sw - d.pads.left;
      const std::int64_t s_lo = std::clamp<std::int64_t>((-ix0 + d.dw - 1) / d.dw, 0, d.kw);
      const std::int64_t s_hi = std::clamp<std::int64_t>((d.iw - ix0 + d.dw - 1) / d.dw, s_lo, d.kw);
      FloatVec acc[vecs];
      for (int v = 0; v < vecs; ++v) acc[v] = bias[v];
      for (std::int64_t r = r_lo; r < r_hi; ++r) {
        const float* xrow = x + ((iy0 + r * d.dh) * d.iw + ix0) * block;
        const float* wrow = wt + r * d.kw * block;
        for (std::int64_t s = s_lo; s < s_hi; ++s)
          for (int v = 0; v < vecs; ++v)
            acc[v] = simd::fma(simd::load_aligned(wrow + s * block + v * W), simd::load_aligned(xrow + s * d.dw * block + v * W), acc[v]);
      }
      for (int v = 0; v < vecs; ++v) simd::store(y + ox * block + v * W, simd::clamp(acc[v], lo, hi));
    }
    // Padded tail channels stay zero (a clamp with lo > 0 would have lifted them).
    if (c == cb - 1 && d.oc % block != 0)
      for (std::int64_t ox = 0; ox < d.ow; ++ox) std::fill(y + ox * block + d.oc % block, y + (ox + 1) * block, 0.0f);
  }
};
static_assert(ConvPrimitive<Depthwise>);

}  // namespace primsel
