// DirectNchwc: direct convolution on the channel-blocked layout (nchw8c, or nchw16c with 16-float vectors), as
// oneDNN's AVX2/AVX-512 direct and 1x1 kernels do it: a register tile of output pixels x NOC output-channel blocks
// (AVX-512: 28 x 1, 14 x 2, 9 x 3, 6 x 4) accumulated over every input channel and tap
// (kernels/f32_conv_nchwc_ukernel.hpp), weights packed per tile so one pointer walks them. A 1x1, stride-1,
// unpadded layer is one GEMM over the flattened image (tiles cross rows); any other stride/padding/dilation runs
// row by row. Wins where im2col's copy costs as much as the math.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/depthwise.hpp"
#include "primsel/primitives/kernel_table.hpp"
#include "primsel/primitives/kernels/f32_conv_nchwc_ukernel.hpp"

namespace primsel {

struct DirectNchwc {
  static constexpr std::string_view name = "direct_nchwc";
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr int vecs = static_cast<int>(block / static_cast<std::int64_t>(simd::width));
  static constexpr int max_noc = 4;  // output-channel blocks per tile, at most

  /// Widest tile of `noc` blocks: its accumulators, `noc` weight vectors and a broadcast fill the register file
  /// (AVX-512: 28 x 1, 14 x 2, 9 x 3, 6 x 4; AVX2: 14, 6, 4, 2); with two or more blocks, 14 pixels already reuse
  /// a weight vector enough. (A 7 x 4 tile reading one weight vector from L1 measured no faster on 7-pixel rows.)
  static constexpr int max_width(int noc) noexcept {
    if (!PRIMSEL_HAS_SIMD) return 2;
    const int ov = noc * vecs;
    return std::clamp((simd::vector_registers - 1 - ov) / ov, 1, noc == 1 ? 28 : 14);
  }

  struct Plan {
    ConvDesc desc;
    int noc = 1;     // output-channel blocks per tile (the last tile may have fewer)
    Tensor weights;  // per tile of noc blocks: [ICb][KH][KW][block (ic)][tile blocks * block (oc)], zero-padded
    Tensor bias;     // [OCb * block]
    Tensor lo, hi;   // clamp bounds per output channel, 0 on padded ones (which so stay zero); empty: no clamp
  };

  static Support supports(const ConvDesc& d) {
    if (d.groups != 1) return Support::no("grouped (use depthwise or im2col_gemm)");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {native_blocked_layout}; }
  static Format output_format(const ConvDesc&) { return {native_blocked_layout}; }
  static std::size_t workspace_bytes(const ConvDesc&, int) { return 0; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) { return plan(d, w, choose_noc(d)); }

  /// plan() with the tile's output-channel blocks forced (1..max_noc), for tests and tuning.
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, int noc) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic, d.kh, d.kw}), ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " for layer " + to_string(d));
    PRIMSEL_CHECK(noc >= 1 && noc <= max_noc, ErrorCode::invalid_argument,
                  "tile of " + std::to_string(noc) + " output-channel blocks for layer " + to_string(d));
    const std::int64_t ocb = blocks(d.oc), icb = blocks(d.ic), taps = d.kh * d.kw;
    Plan p{d, noc, {}, {}, {}, {}};
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, Tensor::create({ocb * icb, taps, block, block}));
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, ocb * block));
    if (!d.activation.is_none()) {
      PRIMSEL_ASSIGN_OR_RETURN(p.lo, Tensor::create({ocb * block}));
      PRIMSEL_ASSIGN_OR_RETURN(p.hi, Tensor::create({ocb * block}));
      std::fill_n(p.lo.data<float>(), d.oc, d.activation.lo);
      std::fill_n(p.hi.data<float>(), d.oc, d.activation.hi);
    }
    const float* src = w.weight.data<float>();
    float* dst = p.weights.data<float>();
    for (std::int64_t o = 0; o < d.oc; ++o) {
      const std::int64_t ob = o / block, tile = ob / noc, nb = std::min<std::int64_t>(noc, ocb - tile * noc);
      float* wt = dst + tile * noc * block * icb * taps * block + (ob - tile * noc) * block + o % block;
      for (std::int64_t i = 0; i < d.ic; ++i)
        for (std::int64_t t = 0; t < taps; ++t)
          wt[(((i / block) * taps + t) * block + i % block) * nb * block] = src[(o * d.ic + i) * taps + t];
    }
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const Work wk = work(p.desc, p.noc, ctx.threads());
    const std::int64_t items = p.desc.n * wk.oc_tiles * wk.groups * wk.chunks;  // (image, oc tile, rows, columns)
    auto body = [&](std::int64_t begin, std::int64_t end, int) {
      for (std::int64_t it = begin; it < end; ++it)
        item(p, wk, in.data<float>(), out.data<float>(), it / (wk.oc_tiles * wk.groups * wk.chunks),
             it / (wk.groups * wk.chunks) % wk.oc_tiles, it / wk.chunks % wk.groups, it % wk.chunks);
    };
    if (ctx.pool)
      ctx.pool->parallel_for(items, body);
    else
      body(0, items, 0);
  }

  /// The tile's output-channel blocks for a layer: the shape that keeps the most accumulators busy on average
  /// over its tiles (a 7-pixel row fills 7 x 3 better than 7 x 2 or 4 + 3 x 4), fewer loads per FMA breaking ties.
  static int choose_noc(const ConvDesc& d) noexcept {
    const std::int64_t ocb = blocks(d.oc), cols = work(d, 1, 1).cols;
    int best = 1;
    double best_score = -1;
    for (int noc = 1; noc <= max_noc; ++noc) {
      double acc = 0, loads = 0, tiles = 0;
      for (std::int64_t ob = 0; ob < ocb; ob += noc) {
        const std::int64_t nb = std::min<std::int64_t>(noc, ocb - ob);
        const std::int64_t n = (cols + max_width(noc) - 1) / max_width(noc);
        const double width = static_cast<double>(cols) / static_cast<double>(n);
        acc += static_cast<double>(n) * width * static_cast<double>(nb);
        loads += static_cast<double>(n) * (width + static_cast<double>(nb));
        tiles += static_cast<double>(n);
      }
      const double score = acc / tiles * (1.0 - 0.25 * loads / acc);
      if (score > best_score + 1e-9) best = noc, best_score = score;
    }
    return best;
  }

 private:
  using TileFn = void (*)(const kernels::NchwcConvArgs&, std::int64_t, float*, bool) noexcept;

  static constexpr std::int64_t blocks(std::int64_t c) noexcept { return (c + block - 1) / block; }

  /// How run() walks the output: `rows` rows of `cols` pixels reading input rows of `in_cols` columns (a 1x1,
  /// stride-1, unpadded layer is one row of OH * OW pixels: the image is contiguous per channel block). A work item
  /// is `group_rows` rows x one of `chunks` column ranges of one output-channel tile, about tiles_per_item tiles;
  /// it runs in passes of `kc` input-channel blocks whose weights stay cached while every tile of the item uses them
  /// (the partial sums wait in the output).
  struct Work {
    std::int64_t rows, cols, in_rows, in_cols;
    std::int64_t oc_tiles, group_rows, groups, chunks, kc;
  };

  /// A pass's weights for one tile stay in L1 (48 KiB on Zen 5 and Golden Cove) while the item's tiles reuse
  /// them; the partial sums wait in the output between passes. Measured against L2-sized passes (256 KiB), 1
  /// thread, interleaved runs: on a Xeon, 1x1 layers with long reductions (K 320-960) 3-8% faster, 3x3 layers
  /// unchanged (a pass is one input-channel block there); on Zen 5, no difference either way.
  static constexpr std::int64_t pass_weight_bytes = 32 * 1024;
  /// A pointwise layer whose input and output outgrow L2 (1-2 MiB per core on recent x86) streams its input from
  /// L3, and a tile's pixels of the next channel block sit a plane away, where the hardware prefetcher does not
  /// look: the kernel prefetches them. Measured 1 thread, interleaved with oneDNN on a loaded Xeon: MobileNetV2's
  /// 1x1 layers at 112x112 15-40% faster, at 56x56 0-10%; layers that stay in L2 lost 5-15% to the extra loads.
  static constexpr std::int64_t prefetch_bytes = 1024 * 1024;
  static constexpr std::int64_t tiles_per_item = 8;

  static Work work(const ConvDesc& d, int noc, int threads) noexcept {
    const bool flat = d.kh == 1 && d.kw == 1 && d.sh == 1 && d.sw == 1 && d.pads == Pads2d{};
    Work w{};
    w.rows = flat ? 1 : d.oh, w.cols = flat ? d.oh * d.ow : d.ow;
    w.in_rows = flat ? 1 : d.ih, w.in_cols = flat ? d.ih * d.iw : d.iw;
    const std::int64_t nw = max_width(noc), row_tiles = (w.cols + nw - 1) / nw;
    w.oc_tiles = (blocks(d.oc) + noc - 1) / noc;
    w.chunks = std::max<std::int64_t>(1, row_tiles / tiles_per_item);
    w.group_rows = std::min(w.rows, (tiles_per_item + row_tiles - 1) / row_tiles);
    auto items = [&] { return d.n * w.oc_tiles * ((w.rows + w.group_rows - 1) / w.group_rows) * w.chunks; };
    // Enough items to balance the threads; a remainder (11 items on 2 threads: 6 + 5) is worth a finer split.
    while (items() < 4 * threads || (items() % threads != 0 && items() < 16 * threads)) {
      if (w.group_rows > 1)
        w.group_rows = (w.group_rows + 1) / 2;
      else if (w.cols / (2 * w.chunks) >= nw)
        w.chunks *= 2;
      else
        break;
    }
    w.groups = (w.rows + w.group_rows - 1) / w.group_rows;
    const std::int64_t icb = blocks(d.ic), block_bytes = noc * block * d.kh * d.kw * block * 4;
    const bool one_tile = w.group_rows == 1 && w.cols / w.chunks <= nw;
    w.kc = one_tile ? icb : std::clamp<std::int64_t>(pass_weight_bytes / block_bytes, 1, icb);
    return w;
  }

  template <int NOC, int SW>
  static constexpr auto widths = []<int... I>(std::integer_sequence<int, I...>) {
    return std::array<TileFn, sizeof...(I)>{{&kernels::f32_conv_nchwc_ukernel<block, I + 1, NOC, SW>...}};
  }(std::make_integer_sequence<int, max_width(NOC)>{});

  /// Tiles of nb blocks, indexed by width - 1; strides 1 and 2 have their own (the common ones, fixed offsets).
  friend struct KernelTable<DirectNchwc>;
  using Kernels = std::array<std::array<const TileFn*, 3>, max_noc>;
  template <int = 0>  // a template: its kernels are instantiated only where KernelTable<P>::get() is
  static constexpr Kernels make_kernels() noexcept {
    return []<int... N>(std::integer_sequence<int, N...>) {
      return Kernels{{{widths<N + 1, 1>.data(), widths<N + 1, 2>.data(), widths<N + 1, 0>.data()}...}};
    }(std::make_integer_sequence<int, max_noc>{});
  }
  static const TileFn* tile_table(std::int64_t nb, std::int64_t sw) noexcept {
    return KernelTable<DirectNchwc>::get()[static_cast<std::size_t>(nb - 1)][sw == 1 ? 0 : sw == 2 ? 1 : 2];
  }

  /// One work item: rows [oy0, oy1) x columns [c0, c1) of output-channel tile `tile`, each row cut into tiles of
  /// nearly equal width (56 -> 14 x 4; 7 -> 7) so no narrow tile reloads every weight for one or two pixels.
  static void item(const Plan& p, const Work& wk, const float* x, float* y, std::int64_t n, std::int64_t tile,
                   std::int64_t group, std::int64_t chunk) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t ocb = blocks(d.oc), icb = blocks(d.ic), ob = tile * p.noc;
    const std::int64_t nb = std::min<std::int64_t>(p.noc, ocb - ob), nw = max_width(static_cast<int>(nb));
    kernels::NchwcConvArgs a;
    a.x = x + n * icb * d.ih * d.iw * block;
    a.x_plane = d.ih * d.iw * block;
    a.x_row = wk.in_cols * block;
    a.iw = wk.in_cols;
    a.dh = d.dh;
    a.kw = d.kw, a.dw = d.dw, a.sw = d.sw;
    a.taps = d.kh * d.kw;
    a.prefetch = d.is_pointwise() && (d.ic * d.ih * d.iw + d.oc * d.oh * d.ow) * 4 > prefetch_bytes;
    a.ic_blocks = d.ic / block, a.ic_tail = d.ic % block;
    a.w = p.weights.data<float>() + ob * block * icb * a.taps * block;
    a.y_plane = d.oh * d.ow * block;
    a.bias = p.bias.data<float>() + ob * block;
    if (!d.activation.is_none()) {
      a.lo = p.lo.data<float>() + ob * block;
      a.hi = p.hi.data<float>() + ob * block;
    }
    float* yt = y + (n * ocb + ob) * a.y_plane;
    // Output columns whose every tap lies inside the input: [safe_lo, safe_hi).
    const std::int64_t safe_lo = std::min(wk.cols, (d.pads.left + d.sw - 1) / d.sw);
    const std::int64_t last_ok = wk.in_cols - 1 - (d.kw - 1) * d.dw + d.pads.left;  // ox * sw must be <= this
    const std::int64_t safe_hi = std::max(safe_lo, std::min(wk.cols, last_ok < 0 ? 0 : last_ok / d.sw + 1));
    const std::int64_t oy0 = group * wk.group_rows, oy1 = std::min(wk.rows, oy0 + wk.group_rows);
    const std::int64_t c0 = wk.cols * chunk / wk.chunks, c1 = wk.cols * (chunk + 1) / wk.chunks;
    const std::int64_t tiles = (c1 - c0 + nw - 1) / nw, base = (c1 - c0) / tiles, wider = (c1 - c0) % tiles;
    const TileFn* fns = tile_table(nb, d.sw);
    for (std::int64_t k0 = 0; k0 < icb; k0 += wk.kc) {
      a.icb_begin = k0, a.icb_end = std::min(icb, k0 + wk.kc);
      a.first = k0 == 0, a.last = a.icb_end == icb;
      for (std::int64_t oy = oy0; oy < oy1; ++oy) {
        a.iy0 = oy * d.sh - d.pads.top;
        a.r_lo = std::clamp<std::int64_t>((-a.iy0 + d.dh - 1) / d.dh, 0, d.kh);
        a.r_hi = std::clamp<std::int64_t>((wk.in_rows - a.iy0 + d.dh - 1) / d.dh, a.r_lo, d.kh);
        for (std::int64_t t = 0, ox = c0; t < tiles; ++t) {
          const std::int64_t width = base + (t < wider);
          const bool edge = ox < safe_lo || ox + width > safe_hi;
          fns[width - 1](a, ox * d.sw - d.pads.left, yt + (oy * wk.cols + ox) * block, edge);
          ox += width;
        }
      }
    }
  }
};
static_assert(ConvPrimitive<DirectNchwc>);
#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
extern template struct KernelTable<DirectNchwc>;  // compiled once: runtime/default_candidates.hpp
#endif

}  // namespace primsel
