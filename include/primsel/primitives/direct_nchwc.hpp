// DirectNchwc: direct convolution on the channel-blocked layout (nchw8c, or nchw16c with 16-float vectors), as
// oneDNN's AVX2/AVX-512 direct kernels do it: weights packed OIhw[8i][8o], a register tile of UR_W output
// pixels x UR_OC output-channel blocks accumulated over every input channel and tap — each input value is one
// broadcast reused across UR_OC vectors of weights, each weight vector across UR_W pixels. No unrolling buffer,
// any stride/padding/dilation; wins where im2col's copy costs as much as the math (strided and small layers).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/depthwise.hpp"

namespace primsel {

struct DirectNchwc {
  static constexpr std::string_view name = "direct_nchwc";
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr int vecs = static_cast<int>(block / static_cast<std::int64_t>(simd::width));
  // Output pixels per tile: ur_w x ur_oc accumulators fill 12 of 16 registers (AVX2) or 24 of 32 (AVX-512, NEON).
  static constexpr int ur_w = !PRIMSEL_HAS_SIMD ? 2 : simd::vector_registers >= 32 ? 12 : 6;
  static constexpr int ur_oc = 2;                        // output-channel blocks per tile

  struct Plan {
    ConvDesc desc;
    Tensor weights;  // [OCb][ICb][KH][KW][block (ic)][block (oc)], zero outside the real channels
    Tensor bias;     // [OCb * block]
  };

  static Support supports(const ConvDesc& d) {
    if (d.groups != 1) return Support::no("grouped (use depthwise or im2col_gemm)");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {native_blocked_layout}; }
  static Format output_format(const ConvDesc&) { return {native_blocked_layout}; }
  static std::size_t workspace_bytes(const ConvDesc&, int) { return 0; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic, d.kh, d.kw}), ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " for layer " + to_string(d));
    const std::int64_t ocb = blocks(d.oc), icb = blocks(d.ic);
    Plan p{d, {}, {}};
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, Tensor::create({ocb * icb, d.kh * d.kw, block, block}));
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, ocb * block));
    const float* src = w.weight.data<float>();
    float* dst = p.weights.data<float>();
    for (std::int64_t o = 0; o < d.oc; ++o)
      for (std::int64_t i = 0; i < d.ic; ++i)
        for (std::int64_t t = 0; t < d.kh * d.kw; ++t)
          dst[(((o / block) * icb + i / block) * d.kh * d.kw + t) * block * block + (i % block) * block + o % block] =
              src[(o * d.ic + i) * d.kh * d.kw + t];
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t oc_tiles = (blocks(d.oc) + ur_oc - 1) / ur_oc;
    const std::int64_t items = d.n * oc_tiles * d.oh;  // (image, oc tile, output row)
    auto work = [&](std::int64_t begin, std::int64_t end, int) {
      for (std::int64_t it = begin; it < end; ++it)
        row(p, in.data<float>(), out.data<float>(), it / (oc_tiles * d.oh), it / d.oh % oc_tiles, it % d.oh);
    };
    if (ctx.pool)
      ctx.pool->parallel_for(items, work);
    else
      work(0, items, 0);
  }

 private:
  static constexpr std::int64_t blocks(std::int64_t c) noexcept { return (c + block - 1) / block; }

  /// One tile: NW pixels starting at ox0 x NOC output-channel blocks from ob0. `Edge` checks every tap's column.
  template <int NW, int NOC, bool Edge>
  static void tile(const Plan& p, const float* x, float* y, std::int64_t ob0, std::int64_t oy, std::int64_t ox0,
                   std::int64_t r_lo, std::int64_t r_hi) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
    constexpr int OV = NOC * vecs;  // accumulator vectors across output channels
    const ConvDesc& d = p.desc;
    const std::int64_t icb_n = blocks(d.ic), taps = d.kh * d.kw, plane = d.ih * d.iw * block;
    FloatVec acc[NW][OV];
    for (int v = 0; v < OV; ++v) {
      const FloatVec b = simd::load_aligned(p.bias.data<float>() + ob0 * block + v * W);
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j) acc[j][v] = b;
    }
    const std::int64_t iy0 = oy * d.sh - d.pads.top, ix0 = ox0 * d.sw - d.pads.left;
    for (std::int64_t icb = 0; icb < icb_n; ++icb) {
      const float* xb = x + icb * plane;
      for (std::int64_t r = r_lo; r < r_hi; ++r) {
        const float* xrow = xb + (iy0 + r * d.dh) * d.iw * block;
        for (std::int64_t s = 0; s < d.kw; ++s) {
          const float* w0 = p.weights.data<float>() + ((ob0 * icb_n + icb) * taps + r * d.kw + s) * block * block;
          const std::int64_t wstride = icb_n * taps * block * block;  // to the next output-channel block
          const float* xs[NW];
          bool inside[NW];
#pragma GCC unroll 16
          for (int j = 0; j < NW; ++j) {
            const std::int64_t ix = ix0 + j * d.sw + s * d.dw;
            inside[j] = !Edge || (ix >= 0 && ix < d.iw);
            xs[j] = inside[j] ? xrow + ix * block : xrow;  // never form an out-of-range pointer
          }
          for (std::int64_t i = 0; i < block; ++i) {
            FloatVec wv[OV];
#pragma GCC unroll 16
            for (int o = 0; o < NOC; ++o)
#pragma GCC unroll 4
              for (int v = 0; v < vecs; ++v) wv[o * vecs + v] = simd::load_aligned(w0 + o * wstride + i * block + v * W);
#pragma GCC unroll 16
            for (int j = 0; j < NW; ++j) {
              if (Edge && !inside[j]) continue;
              const FloatVec xv = simd::broadcast(xs[j][i]);
#pragma GCC unroll 16
              for (int v = 0; v < OV; ++v) acc[j][v] = simd::fma(xv, wv[v], acc[j][v]);
            }
          }
        }
      }
    }
    const FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
    const std::int64_t out_plane = d.oh * d.ow * block;
    for (int o = 0; o < NOC; ++o) {
      float* yb = y + (ob0 + o) * out_plane + (oy * d.ow + ox0) * block;
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; ++v) simd::store(yb + j * block + v * W, simd::clamp(acc[j][o * vecs + v], lo, hi));
    }
  }

  /// A row is cut into ceil(ow / ur_w) tiles of nearly equal width (56 -> 12,11,11,11,11; 7 -> 7), so no narrow
  /// tile reloads every weight for one or two pixels; tiles that reach into the padding check each tap (Edge).
  template <int NOC>
  static void row_blocks(const Plan& p, const float* x, float* y, std::int64_t ob0, std::int64_t oy, std::int64_t r_lo,
                         std::int64_t r_hi) noexcept {
    using TileFn = void (*)(const Plan&, const float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                            std::int64_t) noexcept;
    static constexpr auto table = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<std::array<TileFn, 2>, sizeof...(I)>{
          {{&tile<I + 1, NOC, false>, &tile<I + 1, NOC, true>}...}};
    }(std::make_integer_sequence<int, ur_w>{});
    const ConvDesc& d = p.desc;
    // Output columns whose every tap lies inside the input: [safe_lo, safe_hi).
    const std::int64_t safe_lo = std::min(d.ow, (d.pads.left + d.sw - 1) / d.sw);
    const std::int64_t last_ok = d.iw - 1 - (d.kw - 1) * d.dw + d.pads.left;  // ox * sw must be <= this
    const std::int64_t safe_hi = std::max(safe_lo, std::min(d.ow, last_ok < 0 ? 0 : last_ok / d.sw + 1));
    const std::int64_t tiles = (d.ow + ur_w - 1) / ur_w;
    for (std::int64_t t = 0, ox = 0; t < tiles; ++t) {
      const std::int64_t width = (d.ow - ox) / (tiles - t) + ((d.ow - ox) % (tiles - t) != 0);
      const bool edge = ox < safe_lo || ox + width > safe_hi;
      table[static_cast<std::size_t>(width - 1)][edge](p, x, y, ob0, oy, ox, r_lo, r_hi);
      ox += width;
    }
  }

  static void row(const Plan& p, const float* x, float* y, std::int64_t n, std::int64_t tile_oc, std::int64_t oy) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t ocb_n = blocks(d.oc), ob0 = tile_oc * ur_oc;
    const float* xn = x + n * blocks(d.ic) * d.ih * d.iw * block;
    float* yn = y + n * ocb_n * d.oh * d.ow * block;
    const std::int64_t iy0 = oy * d.sh - d.pads.top;
    const std::int64_t r_lo = std::clamp<std::int64_t>((-iy0 + d.dh - 1) / d.dh, 0, d.kh);
    const std::int64_t r_hi = std::clamp<std::int64_t>((d.ih - iy0 + d.dh - 1) / d.dh, r_lo, d.kh);
    if (ob0 + ur_oc <= ocb_n)
      row_blocks<ur_oc>(p, xn, yn, ob0, oy, r_lo, r_hi);
    else
      row_blocks<1>(p, xn, yn, ob0, oy, r_lo, r_hi);
    if (ob0 + ur_oc >= ocb_n && d.oc % block != 0) {  // padded tail channels stay zero
      float* tail = yn + (ocb_n - 1) * d.oh * d.ow * block + oy * d.ow * block;
      for (std::int64_t ox = 0; ox < d.ow; ++ox) std::fill(tail + ox * block + d.oc % block, tail + (ox + 1) * block, 0.0f);
    }
  }
};
static_assert(ConvPrimitive<DirectNchwc>);

}  // namespace primsel
