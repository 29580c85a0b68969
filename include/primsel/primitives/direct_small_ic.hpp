// DirectSmallIc: direct convolution for few input channels (a network's RGB first layer), as oneDNN's first-layer
// kernels do it: plain nchw input (the network input's layout: no conversion, no padding of 3 channels to a block),
// channel-blocked output. A register tile of NW pixels x NOC output-channel blocks accumulates, over every (ic, kh,
// kw), one broadcast input scalar (strided by the conv stride) times NOC packed weight vectors. Wins where
// direct_nchwc would pad IC to a block and im2col would copy each input value KH*KW times.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/kernel_table.hpp"
#include "primsel/primitives/depthwise.hpp"

namespace primsel {

struct DirectSmallIc {
  static constexpr std::string_view name = "direct_small_ic";
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr int vecs = static_cast<int>(block / static_cast<std::int64_t>(simd::width));
  // Output-channel blocks per tile: 4 x 16 on AVX-512 (resnet's and vgg's 64 output channels in one tile: 15-25%
  // faster there than two tiles of 2 blocks x 14 pixels); 2 x 8 on AVX2 and NEON, where a block is 8 floats.
  static constexpr int ur_oc = !PRIMSEL_HAS_SIMD ? 1 : simd::vector_registers >= 32 && vecs == 1 ? 4 : 2;
  /// Output pixels per tile for NOC output-channel blocks: the accumulators, the NOC weight vectors of a tap and the
  /// broadcast input fill the vector registers (AVX-512: 6 pixels x 4 blocks, 14 x 2; AVX2: 6 x 2; NEON: 6 x 2).
  /// Measured on AVX-512: 7 x 4 spills an accumulator and ran ~6% slower than 6 x 4; 14 x 2 beat 12 x 2 by ~8%.
  static constexpr int ur_w(int noc) noexcept {
    const int ov = noc * vecs;
    return !PRIMSEL_HAS_SIMD ? 2 : std::clamp((simd::vector_registers - 1 - ov) / ov, 1, 14);
  }
  /// Largest input channel count accepted. Measured against direct_nchwc (single thread, AVX-512, CPU time, 3x3
  /// and 7x7/s2 kernels, 64 output channels): 7% faster at 3 input channels (all three first layers), 16% at 1,
  /// level at 4-8; from 10 on direct_nchwc is 3-6% faster (10-16), 8-12% at 24-32. Up to 8, the plain input also
  /// spares the network input's conversion to the blocked layout.
  static constexpr std::int64_t max_ic = 8;

  struct Plan {
    ConvDesc desc;
    Tensor weights;  // per tile group of ur_oc oc blocks: [IC][KH][KW][NOC * block], zero outside the real channels
    Tensor bias;     // [OCb * block]
  };

  static Support supports(const ConvDesc& d) {
    if (d.groups != 1) return Support::no("grouped (use depthwise or im2col_gemm)");
    if (d.ic > max_ic) return Support::no("more than 8 input channels (direct_nchwc is faster)");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {Layout::nchw}; }
  static Format output_format(const ConvDesc&) { return {native_blocked_layout}; }
  static std::size_t workspace_bytes(const ConvDesc&, int) { return 0; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic, d.kh, d.kw}), ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " for layer " + to_string(d));
    const std::int64_t ocb = blocks(d.oc), taps = d.ic * d.kh * d.kw;
    Plan p{d, {}, {}};
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, Tensor::create({ocb * block * taps}));
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, ocb * block));
    const float* src = w.weight.data<float>();
    float* dst = p.weights.data<float>();
    for (std::int64_t o = 0; o < d.oc; ++o) {
      const std::int64_t g = o / block / ur_oc, lane = o - g * ur_oc * block;  // lane within the group's vectors
      const std::int64_t width = group_blocks(d, g) * block;
      for (std::int64_t t = 0; t < taps; ++t) dst[g * ur_oc * block * taps + t * width + lane] = src[o * taps + t];
    }
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t groups = (blocks(d.oc) + ur_oc - 1) / ur_oc;
    const std::int64_t items = d.n * groups * d.oh;  // (image, oc group, output row), rows innermost
    const std::int64_t parts = std::clamp<std::int64_t>(d.macs() / min_macs_per_thread, 1, ctx.threads());
    auto work = [&](std::int64_t part_begin, std::int64_t part_end, int) {
      const std::int64_t end = items * part_end / parts;
      for (std::int64_t item = items * part_begin / parts; item < end;) {  // a band of rows of one plane at a time
        const std::int64_t plane = item / d.oh, stop = std::min(end, (plane + 1) * d.oh);
        rows(p, in.data<float>(), out.data<float>(), plane / groups, plane % groups, item % d.oh, stop - plane * d.oh);
        item = stop;
      }
    };
    if (parts > 1 && ctx.pool)
      ctx.pool->parallel_for(parts, work);
    else
      work(0, 1, 0);
  }

  /// A thread's part must outweigh waking it (a parallel_for round trip is ~20 us on a 2-core VM, about a
  /// million MACs of these tiles); smaller layers run on the calling thread alone.
  static constexpr std::int64_t min_macs_per_thread = std::int64_t{1} << 20;

 private:
  static constexpr std::int64_t blocks(std::int64_t c) noexcept { return (c + block - 1) / block; }
  /// Output-channel blocks in tile group g (the last group may have fewer than ur_oc).
  static std::int64_t group_blocks(const ConvDesc& d, std::int64_t g) noexcept {
    return std::min<std::int64_t>(ur_oc, blocks(d.oc) - g * ur_oc);
  }

  /// One output row of one (image, oc group) as its tiles see it.
  struct Row {
    const float* x = nullptr;         // the image's input, [IC][IH][IW]
    const float* w = nullptr;         // the group's weights, [IC][KH][KW][NOC * block]
    const float* bias = nullptr;      // the group's bias, [NOC * block]
    float* y = nullptr;               // the group's first block, output row oy
    std::int64_t out_plane = 0;       // floats from one output-channel block to the next
    std::int64_t iy0 = 0;             // input row under kernel row 0
    std::int64_t r_lo = 0, r_hi = 0;  // kernel rows inside the input
  };

  /// NW pixels from column ox0 x NOC blocks. Interior tiles address the input without checks; Edge tiles skip the
  /// taps that fall into the left/right padding. (A compile-time column stride measured no faster: within 2%.)
  template <int NW, int NOC, bool Edge>
  static void tile(const ConvDesc& d, const Row& row, std::int64_t ox0) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
    constexpr int OV = NOC * vecs;
    constexpr std::int64_t tap_w = NOC * block;  // floats of weights per (ic, kh, kw)
    const std::int64_t sw = d.sw, ix0 = ox0 * sw - d.pads.left;
    const std::int64_t kw = d.kw, dw = d.dw, plane = d.ih * d.iw;
    FloatVec acc[NW][OV];
#pragma GCC unroll 16
    for (int v = 0; v < OV; ++v) {
      const FloatVec b = simd::load_aligned(row.bias + v * W);
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j) acc[j][v] = b;
    }
    const float* w = row.w;
    for (std::int64_t c = 0; c < d.ic; ++c) {
      const float* xc = row.x + c * plane;
      for (std::int64_t r = row.r_lo; r < row.r_hi; ++r) {
        const float* xr = xc + (row.iy0 + r * d.dh) * d.iw;
        const float* wr = w + (c * d.kh + r) * kw * tap_w;
        for (std::int64_t s = 0; s < kw; ++s) {
          FloatVec wv[OV];
#pragma GCC unroll 16
          for (int v = 0; v < OV; ++v) wv[v] = simd::load_aligned(wr + s * tap_w + v * W);
          if constexpr (!Edge) {
            const float* xs = xr + ix0 + s * dw;
#pragma GCC unroll 16
            for (int j = 0; j < NW; ++j) {
              const FloatVec xv = simd::broadcast(xs[j * sw]);
#pragma GCC unroll 16
              for (int v = 0; v < OV; ++v) acc[j][v] = simd::fma(xv, wv[v], acc[j][v]);
            }
          } else {
#pragma GCC unroll 16
            for (int j = 0; j < NW; ++j) {
              const std::int64_t ix = ix0 + j * sw + s * dw;
              if (static_cast<std::uint64_t>(ix) >= static_cast<std::uint64_t>(d.iw)) continue;
              const FloatVec xv = simd::broadcast(xr[ix]);
#pragma GCC unroll 16
              for (int v = 0; v < OV; ++v) acc[j][v] = simd::fma(xv, wv[v], acc[j][v]);
            }
          }
        }
      }
    }
    const FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
#pragma GCC unroll 4
    for (int o = 0; o < NOC; ++o) {
      float* yb = row.y + o * row.out_plane + ox0 * block;
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < vecs; ++v) simd::store(yb + j * block + v * W, simd::clamp(acc[j][o * vecs + v], lo, hi));
    }
  }

  using TileFn = void (*)(const ConvDesc&, const Row&, std::int64_t) noexcept;

  /// Tiles of widths 1..ur_w(NOC), interior and edge.
  template <int NOC>
  static constexpr auto tile_table = []<int... I>(std::integer_sequence<int, I...>) {
    return std::array<std::array<TileFn, 2>, sizeof...(I)>{{{&tile<I + 1, NOC, false>, &tile<I + 1, NOC, true>}...}};
  }(std::make_integer_sequence<int, ur_w(NOC)>{});

  /// Output rows [oy_begin, oy_end) of image n, oc group g (of NOC blocks).
  template <int NOC>
  static void rows_of(const Plan& p, const float* x, float* y, std::int64_t n, std::int64_t g, std::int64_t oy_begin,
                      std::int64_t oy_end) noexcept {
    constexpr auto& table = tile_table<NOC>;
    constexpr std::int64_t max_w = ur_w(NOC);
    const ConvDesc& d = p.desc;
    const std::int64_t ocb = blocks(d.oc), out_plane = d.oh * d.ow * block;
    Row row{.x = x + n * d.ic * d.ih * d.iw, .w = p.weights.data<float>() + g * ur_oc * block * d.ic * d.kh * d.kw,
            .bias = p.bias.data<float>() + g * ur_oc * block, .out_plane = out_plane};
    float* yg = y + (n * ocb + g * ur_oc) * out_plane;
    // Output columns whose every tap lies inside the input: [safe_lo, safe_hi). The row is cut into a left edge, the
    // interior and a right edge, each part into near-equal tiles of at most max_w (109 -> five of 14 and three of 13).
    // An edge part is widened to a full tile where the row allows: a tile of one pixel keeps only NOC accumulators,
    // too few to hide the FMA latency (two FMAs a cycle, four cycles each, need eight chains in flight).
    const std::int64_t safe_lo = std::min(d.ow, (d.pads.left + d.sw - 1) / d.sw);
    const std::int64_t last_ok = d.iw - 1 - (d.kw - 1) * d.dw + d.pads.left;  // ox * sw must be <= this
    const std::int64_t safe_hi = std::max(safe_lo, std::min(d.ow, last_ok < 0 ? 0 : last_ok / d.sw + 1));
    const std::int64_t left_end = safe_lo == 0 ? 0 : std::min(d.ow, std::max(safe_lo, max_w));
    const std::int64_t right_begin = safe_hi == d.ow ? d.ow : std::max(left_end, std::min(safe_hi, d.ow - max_w));
    const std::int64_t bounds[4] = {0, left_end, right_begin, d.ow};
    for (std::int64_t oy = oy_begin; oy < oy_end; ++oy) {
      row.y = yg + oy * d.ow * block;
      row.iy0 = oy * d.sh - d.pads.top;
      row.r_lo = std::clamp<std::int64_t>((-row.iy0 + d.dh - 1) / d.dh, 0, d.kh);
      row.r_hi = std::clamp<std::int64_t>((d.ih - row.iy0 + d.dh - 1) / d.dh, row.r_lo, d.kh);
      for (int part = 0; part < 3; ++part) {
        const std::int64_t begin = bounds[part], span = bounds[part + 1] - begin;
        if (span <= 0) continue;
        const std::int64_t count = (span + max_w - 1) / max_w, width = span / count, wider = span % count;
        for (std::int64_t t = 0, ox = begin; t < count; ++t) {
          const std::int64_t nw = width + (t < wider);
          table[static_cast<std::size_t>(nw - 1)][part != 1](d, row, ox);
          ox += nw;
        }
      }
      // Padded tail channels stay zero (a clamp with lo > 0 would have lifted them).
      if (g * ur_oc + NOC == ocb && d.oc % block != 0) {
        float* tail = row.y + (NOC - 1) * out_plane;
        for (std::int64_t ox = 0; ox < d.ow; ++ox)
          std::fill(tail + ox * block + d.oc % block, tail + (ox + 1) * block, 0.0f);
      }
    }
  }

  using RowsFn = void (*)(const Plan&, const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                          std::int64_t) noexcept;

  /// rows_of<NOC> for NOC = 1..ur_oc, by NOC - 1.
  friend struct KernelTable<DirectSmallIc>;
  using Kernels = std::array<RowsFn, ur_oc>;
  template <int = 0>  // a template: its kernels are instantiated only where KernelTable<P>::get() is
  static constexpr Kernels make_kernels() noexcept {
    return []<int... I>(std::integer_sequence<int, I...>) { return Kernels{{&rows_of<I + 1>...}}; }(
        std::make_integer_sequence<int, ur_oc>{});
  }

  static void rows(const Plan& p, const float* x, float* y, std::int64_t n, std::int64_t g, std::int64_t oy_begin,
                   std::int64_t oy_end) noexcept {
    KernelTable<DirectSmallIc>::get()[static_cast<std::size_t>(group_blocks(p.desc, g) - 1)](p, x, y, n, g, oy_begin,
                                                                                             oy_end);
  }
};
static_assert(ConvPrimitive<DirectSmallIc>);
#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
extern template struct KernelTable<DirectSmallIc>;  // compiled once: runtime/default_candidates.hpp
#endif

}  // namespace primsel
