// Depthwise convolution (groups = IC = OC) on the channel-blocked layout (nchw8c, or nchw16c when a vector holds
// 16 floats): every tap is a vector FMA of a packed weight and a contiguous input load, for any kernel, stride,
// padding and dilation. A tile of up to ur_w pixels of an output row keeps that many independent accumulators in
// flight (one pixel alone is a chain of KH*KW dependent FMAs), as oneDNN's jit_uni_dw_conv does; 3x3 and 5x5
// kernels with stride 1 or 2 are unrolled at compile time. Bias and clamp are fused.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/kernel_table.hpp"

namespace primsel {

/// The blocked layout whose block is a whole number of vectors, at least 8 wide.
inline constexpr Layout native_blocked_layout = simd::width >= 16 ? Layout::nchw16c : Layout::nchw8c;

struct Depthwise {
  static constexpr std::string_view name = "depthwise_nchwc";
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr int vecs = static_cast<int>(block / static_cast<std::int64_t>(simd::width));
  // Output pixels per tile: the accumulators fill half the vector registers, leaving the rest for weights and
  // inputs (16 pixels on AVX-512, 8 on AVX2 and NEON; 20 spill on AVX-512).
  static constexpr int ur_w = !PRIMSEL_HAS_SIMD ? 2 : std::max(1, simd::vector_registers / 2 / vecs);

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
    const std::int64_t cb = blocks(d.oc);
    Plan p{d, {}, {}};
    PRIMSEL_ASSIGN_OR_RETURN(p.weights, Tensor::create({cb, d.kh, d.kw, block}));
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, cb * block));
    const float* src = w.weight.data<float>();
    float* dst = p.weights.data<float>();
    for (std::int64_t c = 0; c < d.oc; ++c)
      for (std::int64_t t = 0; t < d.kh * d.kw; ++t)
        dst[((c / block) * d.kh * d.kw + t) * block + c % block] = src[c * d.kh * d.kw + t];
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const RowsFn kernel = pick(d);
    const Columns cols = columns(d);
    // Work items are output rows of every (image, channel block) plane; a thread's part is a band of rows.
    const std::int64_t items = d.ow > 0 ? d.n * blocks(d.oc) * d.oh : 0;
    const std::int64_t parts = std::clamp<std::int64_t>(d.macs() / min_macs_per_thread, 1, ctx.threads());
    auto work = [&](std::int64_t part_begin, std::int64_t part_end, int) {
      const std::int64_t end = items * part_end / parts;
      for (std::int64_t item = items * part_begin / parts; item < end;) {
        const std::int64_t plane = item / d.oh, stop = std::min(end, (plane + 1) * d.oh);
        kernel(p, cols, in.data<float>(), out.data<float>(), plane, item - plane * d.oh, stop - plane * d.oh);
        item = stop;
      }
    };
    if (parts > 1 && ctx.pool)
      ctx.pool->parallel_for(parts, work);
    else
      work(0, 1, 0);
  }

  /// A thread's part must outweigh waking it: a parallel_for round trip measured 5-20 us on a 2-core VM, the time
  /// these tiles take for up to a million MACs. Smaller layers run on the calling thread alone.
  static constexpr std::int64_t min_macs_per_thread = std::int64_t{1} << 20;

 private:
  static constexpr std::int64_t blocks(std::int64_t c) noexcept { return (c + block - 1) / block; }
  /// a / b rounded up for a >= 0 (callers clamp negative a to 0); no division in the common b = 1.
  static constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept {
    return b == 1 ? a : (a + b - 1) / b;
  }

  /// One output row as its tiles see it.
  struct Row {
    const float* x = nullptr;         // input plane of the image and channel block
    const float* w = nullptr;         // the block's weights, [KH][KW][block]
    const float* bias = nullptr;      // [block]
    float* y = nullptr;               // output row
    std::int64_t iy0 = 0;             // input row under kernel row 0
    std::int64_t r_lo = 0, r_hi = 0;  // kernel rows inside the input
  };

  /// NW output pixels from column ox0. KW and SW fix the kernel width and column stride at compile time (dilation
  /// 1); 0 reads them from the layer. Edge tiles, which reach into the left or right padding, read the columns
  /// outside the input from a block of zeros — the padding itself — so that every pixel keeps the same taps (a
  /// non-finite weight on a padding tap gives NaN, as with a zero-padded copy of the input).
  template <int KW, int SW, int NW, bool Edge>
  static void tile(const ConvDesc& d, const Row& row, std::int64_t ox0) noexcept {
    using simd::FloatVec;
    constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
    alignas(64) static constexpr float zeros[block] = {};
    const std::int64_t kw = KW ? KW : d.kw, sw = SW ? SW : d.sw, dw = KW ? 1 : d.dw;
    const std::int64_t ix0 = ox0 * sw - d.pads.left;
    FloatVec acc[NW][vecs];
#pragma GCC unroll 4
    for (int v = 0; v < vecs; ++v) {
      const FloatVec b = simd::load_aligned(row.bias + v * W);
#pragma GCC unroll 16
      for (int j = 0; j < NW; ++j) acc[j][v] = b;
    }
    for (std::int64_t r = row.r_lo; r < row.r_hi; ++r) {
      // Interior tiles address from their first column, so that the offsets below are compile-time constants.
      const float* xrow = row.x + ((row.iy0 + r * d.dh) * d.iw + (Edge ? 0 : ix0)) * block;
      const float* wrow = row.w + r * kw * block;
#pragma GCC unroll 5
      for (std::int64_t s = 0; s < kw; ++s) {  // unrolled in full for the compile-time widths 3 and 5
        FloatVec wv[vecs];
#pragma GCC unroll 4
        for (int v = 0; v < vecs; ++v) wv[v] = simd::load_aligned(wrow + s * block + v * W);
#pragma GCC unroll 16
        for (int j = 0; j < NW; ++j) {
          const std::int64_t col = j * sw + s * dw;
          const bool inside = static_cast<std::uint64_t>(ix0 + col) < static_cast<std::uint64_t>(d.iw);
          const float* xp = !Edge ? xrow + col * block : inside ? xrow + (ix0 + col) * block : zeros;
#pragma GCC unroll 4
          for (int v = 0; v < vecs; ++v) acc[j][v] = simd::fma(wv[v], simd::load_aligned(xp + v * W), acc[j][v]);
        }
      }
    }
    const FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
    float* y = row.y + ox0 * block;
#pragma GCC unroll 16
    for (int j = 0; j < NW; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < vecs; ++v) simd::store(y + j * block + v * W, simd::clamp(acc[j][v], lo, hi));
  }

  /// How every output row is cut into tiles, the same for all rows of a layer.
  struct Columns {
    std::int64_t safe_lo, safe_hi;     // the output columns whose every tap lies inside the input
    std::int64_t count, width, wider;  // tiles; their width, the first `wider` one column wider
  };

  /// A row is cut into ceil(ow / ur_w) tiles of nearly equal width (56 -> 14,14,14,14), so that no narrow tile
  /// reloads every weight for one or two pixels.
  static Columns columns(const ConvDesc& d) noexcept {
    const std::int64_t safe_lo = std::min(d.ow, ceil_div(d.pads.left, d.sw));
    const std::int64_t last_ok = d.iw - 1 - (d.kw - 1) * d.dw + d.pads.left;  // ox * sw must be <= this
    const std::int64_t safe_hi = std::max(safe_lo, std::min(d.ow, last_ok < 0 ? 0 : last_ok / d.sw + 1));
    const std::int64_t count = std::max<std::int64_t>(1, ceil_div(d.ow, ur_w));
    return {safe_lo, safe_hi, count, d.ow / count, d.ow % count};
  }

  using RowsFn = void (*)(const Plan&, const Columns&, const float*, float*, std::int64_t, std::int64_t,
                          std::int64_t) noexcept;

  /// Output rows [oy_begin, oy_end) of one (image, channel block) plane.
  template <int KW, int SW>
  static void rows(const Plan& p, const Columns& cols, const float* x, float* y, std::int64_t plane,
                   std::int64_t oy_begin, std::int64_t oy_end) noexcept {
    using TileFn = void (*)(const ConvDesc&, const Row&, std::int64_t) noexcept;
    static constexpr auto tiles = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<std::array<TileFn, 2>, sizeof...(I)>{
          {{&tile<KW, SW, I + 1, false>, &tile<KW, SW, I + 1, true>}...}};
    }(std::make_integer_sequence<int, ur_w>{});
    const ConvDesc& d = p.desc;
    const std::int64_t c = plane % blocks(d.oc);
    Row row{.x = x + plane * d.ih * d.iw * block,
            .w = p.weights.data<float>() + c * d.kh * d.kw * block,
            .bias = p.bias.data<float>() + c * block};
    for (std::int64_t oy = oy_begin; oy < oy_end; ++oy) {
      row.y = y + (plane * d.oh + oy) * d.ow * block;
      row.iy0 = oy * d.sh - d.pads.top;
      row.r_lo = std::clamp<std::int64_t>(ceil_div(-row.iy0, d.dh), 0, d.kh);
      row.r_hi = std::clamp<std::int64_t>(ceil_div(d.ih - row.iy0, d.dh), row.r_lo, d.kh);
      for (std::int64_t t = 0, ox = 0; t < cols.count; ++t) {
        const std::int64_t n = cols.width + (t < cols.wider);
        tiles[static_cast<std::size_t>(n - 1)][ox < cols.safe_lo || ox + n > cols.safe_hi](d, row, ox);
        ox += n;
      }
      // Padded tail channels stay zero (a clamp with lo > 0 would have lifted them).
      if (c == blocks(d.oc) - 1 && d.oc % block != 0)
        for (std::int64_t ox = 0; ox < d.ow; ++ox)
          std::fill(row.y + ox * block + d.oc % block, row.y + (ox + 1) * block, 0.0f);
    }
  }

  /// The common kernels (MobileNet's and EfficientNet's) get compile-time column loops; the rest the generic tiles:
  /// 3x3 and 5x5 at strides 1 and 2, then the generic rows.
  friend struct KernelTable<Depthwise>;
  using Kernels = std::array<RowsFn, 5>;
  template <int = 0>  // a template: its kernels are instantiated only where KernelTable<P>::get() is
  static constexpr Kernels make_kernels() noexcept {
    return {&rows<3, 1>, &rows<3, 2>, &rows<5, 1>, &rows<5, 2>, &rows<0, 0>};
  }
  static RowsFn pick(const ConvDesc& d) noexcept {
    const Kernels& k = KernelTable<Depthwise>::get();
    const bool unrolled = (d.kw == 3 || d.kw == 5) && (d.sw == 1 || d.sw == 2) && d.dw == 1;
    return unrolled ? k[static_cast<std::size_t>((d.kw == 5) * 2 + (d.sw == 2))] : k[4];
  }
};
static_assert(ConvPrimitive<Depthwise>);
#ifdef PRIMSEL_EXTERN_DEFAULT_CANDIDATES
extern template struct KernelTable<Depthwise>;  // compiled once: runtime/default_candidates.hpp
#endif

}  // namespace primsel
