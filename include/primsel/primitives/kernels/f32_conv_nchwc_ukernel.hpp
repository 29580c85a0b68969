// f32 direct-convolution micro-kernel on the channel-blocked layout, NW pixels x NOC output-channel blocks: the
// NW * NOC * (block / width) accumulators stay in registers over every input channel and tap; per input channel
// one aligned load of the tile's NOC weight vectors (packed contiguously) and one broadcast per pixel. Pixels sit
// SW input columns apart (SW = 0: the run-time stride), so their loads are fixed offsets from one pointer and the
// inner loop is NW broadcasts and NW * NOC FMAs. A call covers a range of input-channel blocks: the first starts
// from the bias, later ones from the partial sums in the output, and the last clamps per channel.
#pragma once

#include <algorithm>
#include <cstdint>

#include "primsel/core/simd.hpp"

namespace primsel::kernels {

/// What a row of tiles shares: the input image, the tile's weights, where the output goes and how it ends.
struct NchwcConvArgs {
  const float* x = nullptr;           ///< the image at channel block 0
  std::int64_t x_plane = 0;           ///< floats from one input channel block to the next
  std::int64_t x_row = 0;             ///< floats from one input row to the next
  std::int64_t iw = 0;                ///< input columns
  std::int64_t iy0 = 0, dh = 1;       ///< input row of tap row 0, and the dilation between tap rows
  std::int64_t r_lo = 0, r_hi = 1;    ///< tap rows inside the input
  std::int64_t kw = 1, dw = 1, sw = 1;  ///< taps per row, their dilation, the stride between pixels
  std::int64_t taps = 1;              ///< KH * KW
  std::int64_t ic_blocks = 0;         ///< full input channel blocks
  std::int64_t ic_tail = 0;           ///< channels of the last, partial block (0: none)
  std::int64_t icb_begin = 0, icb_end = 0;  ///< the input channel blocks of this call
  bool first = true, last = true;     ///< start from the bias (else from y); clamp at the end
  bool prefetch = false;              ///< 1x1, stride 1: fetch each tile's next channel block into L1 ahead
  const float* w = nullptr;           ///< the tile's weights: [IC blocks][KH][KW][block (ic)][NOC * block (oc)]
  std::int64_t y_plane = 0;           ///< floats from one output channel block to the next
  const float* bias = nullptr;        ///< NOC * block each: bias, and the clamp bounds (null: no clamp)
  const float* lo = nullptr;
  const float* hi = nullptr;
};

/// One tile: pixel j reads input column ix0 + j * stride (+ tap offset) and writes y + j * Block. `edge`: some tap
/// of some pixel falls outside the input columns, so each tap runs on the pixels it covers.
template <int Block, int NW, int NOC, int SW>
inline void f32_conv_nchwc_ukernel(const NchwcConvArgs& a, std::int64_t ix0, float* y, bool edge) noexcept {
  using simd::FloatVec;
  constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
  constexpr int OV = NOC * static_cast<int>(Block / W);  // accumulator vectors per pixel
  const std::int64_t sw = SW ? SW : a.sw;
  FloatVec acc[NW][OV];
#pragma GCC unroll 32
  for (int v = 0; v < OV; ++v) {
    const float* yv = y + (v * W / Block) * a.y_plane + v * W % Block;
    const FloatVec b = simd::load_aligned(a.bias + v * W);
#pragma GCC unroll 32
    for (int j = 0; j < NW; ++j) acc[j][v] = a.first ? b : simd::load(yv + j * Block);
  }
  // One input channel: the tile's weights at w times pixel j's value xp[off + (j - J0) * sw * Block], for pixels
  // [J0, J1) (all inside the input) or, with Skip, those in [j_lo, j_hi).
  auto channel = [&]<int J0, int J1, bool Skip>(const float* xp, std::int64_t off, const float* w, std::int64_t j_lo,
                                                 std::int64_t j_hi) __attribute__((always_inline)) {
    FloatVec wv[OV];
#pragma GCC unroll 32
    for (int v = 0; v < OV; ++v) wv[v] = simd::load_aligned(w + v * W);
#pragma GCC unroll 32
    for (int j = J0; j < J1; ++j) {
      if (Skip && (j < j_lo || j >= j_hi)) continue;
      const FloatVec xv = simd::broadcast(xp[off + (j - J0) * sw * Block]);
#pragma GCC unroll 32
      for (int v = 0; v < OV; ++v) acc[j][v] = simd::fma(xv, wv[v], acc[j][v]);
    }
  };
  if (a.taps == 1 && a.r_lo < a.r_hi && !edge) {  // 1x1: one loop over the channels, a plane every Block
    const float* xp = a.x + a.icb_begin * a.x_plane + a.iy0 * a.x_row + ix0 * Block;
    const float* w = a.w + a.icb_begin * Block * OV * W;
    const std::int64_t n = (a.icb_end - a.icb_begin) * Block - (a.icb_end > a.ic_blocks ? Block - a.ic_tail : 0);
    if (a.prefetch) {
      // While the tile works through one channel block, fetch its pixels of the next block into L1 (the last
      // block fetches the next tile's first block): NW lines spread over the block's Block channels.
      constexpr int per = (NW + Block - 1) / Block;  // lines per channel
      const float* const x_first = xp;
      const float* pf = n > Block ? xp + a.x_plane : x_first + NW * Block;
      for (std::int64_t k = 0, kk = 0; k < n; ++k, w += OV * W) {
        channel.template operator()<0, NW, false>(xp + kk, 0, w, 0, NW);
#pragma GCC unroll 4
        for (int q = 0; q < per; ++q)
          if (kk * per + q < NW) __builtin_prefetch(pf + (kk * per + q) * Block, 0, 3);
        if (++kk == Block) kk = 0, xp += a.x_plane, pf = k + 1 + Block < n ? xp + a.x_plane : x_first + NW * Block;
      }
    } else {
      for (std::int64_t k = 0, kk = 0; k < n; ++k, w += OV * W) {
        channel.template operator()<0, NW, false>(xp + kk, 0, w, 0, NW);
        if (++kk == Block) kk = 0, xp += a.x_plane;
      }
    }
  } else {
    for (std::int64_t icb = a.icb_begin; icb < a.icb_end; ++icb) {
      const std::int64_t channels = icb < a.ic_blocks ? Block : a.ic_tail;  // padded channels are zero: skip them
      const float* xb = a.x + icb * a.x_plane;
      for (std::int64_t r = a.r_lo; r < a.r_hi; ++r) {
        const float* xrow = xb + (a.iy0 + r * a.dh) * a.x_row;
        for (std::int64_t s = 0; s < a.kw; ++s) {
          const float* w = a.w + (icb * a.taps + r * a.kw + s) * Block * OV * W;
          const std::int64_t col = ix0 + s * a.dw;  // input column of pixel 0; negative at a left edge
          std::int64_t j_lo = 0, j_hi = NW;         // pixels whose column is inside the input
          if (edge) {
            j_lo = col >= 0 ? 0 : std::min<std::int64_t>(NW, (-col + sw - 1) / sw);
            j_hi = col >= a.iw ? 0 : std::min<std::int64_t>(NW, (a.iw - 1 - col) / sw + 1);
          }
          // Pointers only to pixels inside the input (the general edge indexes from the row). Besides every pixel,
          // the common edges (a padding of one leaves the first or the last pixel out) have no test per pixel.
          if (j_lo == 0 && j_hi == NW) {
            for (std::int64_t k = 0; k < channels; ++k, w += OV * W)
              channel.template operator()<0, NW, false>(xrow + col * Block + k, 0, w, 0, NW);
          } else if (j_lo == 1 && j_hi == NW) {
            for (std::int64_t k = 0; k < channels; ++k, w += OV * W)
              channel.template operator()<1, NW, false>(xrow + (col + sw) * Block + k, 0, w, 1, NW);
          } else if (j_lo == 0 && j_hi == NW - 1) {
            for (std::int64_t k = 0; k < channels; ++k, w += OV * W)
              channel.template operator()<0, NW - 1, false>(xrow + col * Block + k, 0, w, 0, NW - 1);
          } else if (j_lo < j_hi) {
            for (std::int64_t k = 0; k < channels; ++k, w += OV * W)
              channel.template operator()<0, NW, true>(xrow + k, col * Block, w, j_lo, j_hi);
          }
        }
      }
    }
  }
#pragma GCC unroll 32
  for (int v = 0; v < OV; ++v) {
    float* yv = y + (v * W / Block) * a.y_plane + v * W % Block;
    if (a.last && a.lo) {
      const FloatVec lo = simd::load_aligned(a.lo + v * W), hi = simd::load_aligned(a.hi + v * W);
#pragma GCC unroll 32
      for (int j = 0; j < NW; ++j) simd::store(yv + j * Block, simd::clamp(acc[j][v], lo, hi));
    } else {
#pragma GCC unroll 32
      for (int j = 0; j < NW; ++j) simd::store(yv + j * Block, acc[j][v]);
    }
  }
}

}  // namespace primsel::kernels
