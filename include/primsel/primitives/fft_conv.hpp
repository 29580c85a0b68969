// FftConv: convolution as pointwise products in the 2-D Fourier domain, tiled by overlap-save as NNPACK's FFT
// primitives and fbfft (Vasilache et al., ICLR 2015) do: T x T input tiles and the filters (transformed once, at
// plan time) go through real 2-D FFTs, each frequency bin sums over input channels as a complex GEMM, and an
// inverse FFT keeps the (T-k+1)^2 outputs free of wrap-around. Wins on 5x5 and larger kernels with many channels:
// multiplies per output fall from IC*k^2 to ~2*IC*T^2/(T-k+1)^2. Strides become stride-1 layers by polyphase split.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <string>
#include <string_view>

#include "primsel/core/simd.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/concept.hpp"

namespace primsel {

namespace detail::fft {

// The FFT is written here rather than taken from a library: primsel's dependencies have none (Eigen's unsupported
// FFT wraps kissfft, which allocates, and transforms one signal at a time). These kernels transform one FloatVec
// width of independent tiles at once, one per lane, so every butterfly is a plain vector op with no shuffles; the
// only transposes are at the edges, where tiles are gathered from and scattered to NCHW.

using simd::FloatVec;
inline constexpr int W = static_cast<int>(simd::width);

#if PRIMSEL_HAS_SIMD
inline FloatVec sub(const FloatVec& a, const FloatVec& b) noexcept { return a - b; }
inline FloatVec fnma(const FloatVec& a, const FloatVec& b, const FloatVec& c) noexcept { return xsimd::fnma(a, b, c); }
#else
inline FloatVec sub(FloatVec a, FloatVec b) noexcept { return a.v - b.v; }
inline FloatVec fnma(FloatVec a, FloatVec b, FloatVec c) noexcept { return c.v - a.v * b.v; }
#endif

#if PRIMSEL_HAS_SIMD && defined(__AVX512F__)
/// 128-bit blocks Imm[1:0], Imm[3:2] of x, then Imm[5:4], Imm[7:6] of y. The masked form with an all-ones mask
/// is the same instruction; GCC 12's unmasked intrinsics pass an uninitialised operand that -Wall reports once
/// inlined (GCC PR 105593), as in core/simd.hpp — hence the masked unpacks below too.
template <int Imm>
inline __m512 shuffle_blocks(__m512 x, __m512 y) noexcept {
  return _mm512_mask_shuffle_f32x4(x, __mmask16(0xFFFF), x, y, Imm);
}
#endif

/// dst[j * W + i] = src[i][j]: W rows of W floats (any alignment) become W vectors, one lane per source row —
/// how tiles move between NCHW rows and the lane-per-tile layout. xsimd 8's zip_lo/zip_hi interleave only within
/// 128-bit lanes on AVX and AVX-512, so those two get the usual unpack/shuffle networks as intrinsics.
inline void transpose(const float* const* src, float* dst) noexcept {
#if PRIMSEL_HAS_SIMD && defined(__AVX512F__)
  if constexpr (W == 16) {
    constexpr __mmask16 all = 0xFFFF;
    constexpr __mmask8 all8 = 0xFF;
    __m512 a[16], b[16];
    for (int i = 0; i < 16; ++i) a[i] = _mm512_loadu_ps(src[i]);
    // Per 128-bit lane q: pairs of rows interleaved, then quads, so a[4j + c] holds rows 4j..4j+3 of column
    // 4q + c; two rounds of 128-bit block shuffles gather the four quads of each column.
    for (int i = 0; i < 16; i += 2) {
      b[i] = _mm512_mask_unpacklo_ps(a[i], all, a[i], a[i + 1]);
      b[i + 1] = _mm512_mask_unpackhi_ps(a[i], all, a[i], a[i + 1]);
    }
    for (int j = 0; j < 16; j += 4) {
      const __m512d u0 = _mm512_castps_pd(b[j]), u1 = _mm512_castps_pd(b[j + 1]);
      const __m512d v0 = _mm512_castps_pd(b[j + 2]), v1 = _mm512_castps_pd(b[j + 3]);
      a[j] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(u0, all8, u0, v0));
      a[j + 1] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(u0, all8, u0, v0));
      a[j + 2] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(u1, all8, u1, v1));
      a[j + 3] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(u1, all8, u1, v1));
    }
    // 0x44: blocks 0, 1 of each; 0xEE: blocks 2, 3; 0x88: blocks 0, 2; 0xDD: blocks 1, 3.
    for (int c = 0; c < 4; ++c) {
      const __m512 t0 = shuffle_blocks<0x44>(a[c], a[4 + c]), t1 = shuffle_blocks<0xEE>(a[c], a[4 + c]);
      const __m512 t2 = shuffle_blocks<0x44>(a[8 + c], a[12 + c]), t3 = shuffle_blocks<0xEE>(a[8 + c], a[12 + c]);
      _mm512_store_ps(dst + c * 16, shuffle_blocks<0x88>(t0, t2));
      _mm512_store_ps(dst + (4 + c) * 16, shuffle_blocks<0xDD>(t0, t2));
      _mm512_store_ps(dst + (8 + c) * 16, shuffle_blocks<0x88>(t1, t3));
      _mm512_store_ps(dst + (12 + c) * 16, shuffle_blocks<0xDD>(t1, t3));
    }
    return;
  }
#elif PRIMSEL_HAS_SIMD && defined(__AVX2__)
  if constexpr (W == 8) {
    __m256 a[8], b[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm256_loadu_ps(src[i]);
    for (int i = 0; i < 8; i += 2)
      b[i] = _mm256_unpacklo_ps(a[i], a[i + 1]), b[i + 1] = _mm256_unpackhi_ps(a[i], a[i + 1]);
    for (int j = 0; j < 8; j += 4) {
      a[j] = _mm256_shuffle_ps(b[j], b[j + 2], 0x44), a[j + 1] = _mm256_shuffle_ps(b[j], b[j + 2], 0xEE);
      a[j + 2] = _mm256_shuffle_ps(b[j + 1], b[j + 3], 0x44), a[j + 3] = _mm256_shuffle_ps(b[j + 1], b[j + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
      _mm256_store_ps(dst + c * 8, _mm256_permute2f128_ps(a[c], a[4 + c], 0x20));
      _mm256_store_ps(dst + (4 + c) * 8, _mm256_permute2f128_ps(a[c], a[4 + c], 0x31));
    }
    return;
  }
#elif PRIMSEL_HAS_SIMD
  if constexpr (W == 4) {  // SSE, NEON: zips span the whole register
    const FloatVec r0 = simd::load(src[0]), r1 = simd::load(src[1]), r2 = simd::load(src[2]), r3 = simd::load(src[3]);
    const FloatVec a0 = xsimd::zip_lo(r0, r2), a1 = xsimd::zip_hi(r0, r2), a2 = xsimd::zip_lo(r1, r3),
                   a3 = xsimd::zip_hi(r1, r3);
    simd::store(dst, xsimd::zip_lo(a0, a2)), simd::store(dst + 4, xsimd::zip_hi(a0, a2));
    simd::store(dst + 8, xsimd::zip_lo(a1, a3)), simd::store(dst + 12, xsimd::zip_hi(a1, a3));
    return;
  }
#endif
  for (int i = 0; i < W; ++i)
    for (int j = 0; j < W; ++j) dst[j * W + i] = src[i][j];
}

/// to[0, count) = from[0, count), count < W; `from` is aligned. (A plain loop becomes memcpy, which GCC inlines
/// as `rep movs` for Zen: tens of cycles for a few floats.)
inline void store_partial(float* to, const float* from, std::int64_t count) noexcept {
#if PRIMSEL_HAS_SIMD && defined(__AVX512F__)
  if constexpr (W == 16) {
    _mm512_mask_storeu_ps(to, static_cast<__mmask16>((1u << count) - 1), _mm512_load_ps(from));
    return;
  }
#endif
  for (std::int64_t i = 0; i < count; ++i) to[i] = from[i];
}

/// Twiddles of the plan's tile size T: cos and sin of 2*pi*j/T. Shorter transforms use every (T/len)-th entry.
struct Tables {
  std::array<float, 32> cos{}, sin{};
};

constexpr int log2i(int n) noexcept { return n <= 1 ? 0 : 1 + log2i(n / 2); }
constexpr int bit_reverse(int v, int bits) noexcept {
  int r = 0;
  for (int b = 0; b < bits; ++b) r |= ((v >> b) & 1) << (bits - 1 - b);
  return r;
}

// Radix-2 stages with compile-time lengths, so that once unrolled every index is a constant and the arrays live
// in registers. Twiddles at angle 0 and pi/2 are special-cased: they are exact and cost no multiply.

/// Forward (e^-i) decimation in frequency: natural order in, bit-reversed order out.
template <int N, int T, int Len = N>
inline void fft_dif(FloatVec* re, FloatVec* im, const Tables& tw) noexcept {
  if constexpr (Len >= 2) {
    constexpr int half = Len / 2, step = T / Len;
#pragma GCC unroll 32
    for (int base = 0; base < N; base += Len)
#pragma GCC unroll 32
      for (int j = 0; j < half; ++j) {
        const int a = base + j, b = a + half;
        const FloatVec ar = re[a], ai = im[a], br = re[b], bi = im[b];
        re[a] = ar + br, im[a] = ai + bi;
        if (j == 0) {
          re[b] = sub(ar, br), im[b] = sub(ai, bi);
        } else if (j * step == T / 4) {  // times -i
          re[b] = sub(ai, bi), im[b] = sub(br, ar);
        } else {
          const FloatVec c = simd::broadcast(tw.cos[j * step]), s = simd::broadcast(tw.sin[j * step]);
          const FloatVec dr = sub(ar, br), di = sub(ai, bi);
          re[b] = simd::fma(di, s, dr * c), im[b] = fnma(dr, s, di * c);
        }
      }
    fft_dif<N, T, Len / 2>(re, im, tw);
  }
}

/// Inverse (e^+i, unnormalised) decimation in time: bit-reversed order in, natural order out.
template <int N, int T, int Len = 2>
inline void ifft_dit(FloatVec* re, FloatVec* im, const Tables& tw) noexcept {
  if constexpr (Len <= N) {
    constexpr int half = Len / 2, step = T / Len;
#pragma GCC unroll 32
    for (int base = 0; base < N; base += Len)
#pragma GCC unroll 32
      for (int j = 0; j < half; ++j) {
        const int a = base + j, b = a + half;
        const FloatVec ar = re[a], ai = im[a];
        if (j == 0) {
          const FloatVec br = re[b], bi = im[b];
          re[a] = ar + br, im[a] = ai + bi, re[b] = sub(ar, br), im[b] = sub(ai, bi);
        } else if (j * step == T / 4) {  // b times +i
          const FloatVec br = re[b], bi = im[b];
          re[a] = sub(ar, bi), im[a] = ai + br, re[b] = ar + bi, im[b] = sub(ai, br);
        } else {
          const FloatVec c = simd::broadcast(tw.cos[j * step]), s = simd::broadcast(tw.sin[j * step]);
          const FloatVec br = fnma(im[b], s, re[b] * c), bi = simd::fma(re[b], s, im[b] * c);
          re[a] = ar + br, im[a] = ai + bi, re[b] = sub(ar, br), im[b] = sub(ai, bi);
        }
      }
    ifft_dit<N, T, Len * 2>(re, im, tw);
  }
}

// Frequency buffers hold complex vectors as [re: W floats][im: W floats]; a tile's spectrum is [v][u] with
// v in [0, T) (bit-reversed order after the forward transform) and u in [0, T/2] (the real axis keeps half).

/// Real FFT of one row of T vectors, as a complex FFT of half length on (even, odd) pairs. Writes 2x the spectrum
/// for u in [0, T/2]; the factor is folded into the filters.
template <int T>
inline void row_forward(const float* x, float* out, const Tables& tw) noexcept {
  constexpr int H = T / 2, bits = log2i(H);
  FloatVec zr[H], zi[H];
#pragma GCC unroll 32
  for (int m = 0; m < H; ++m)
    zr[m] = simd::load_aligned(x + 2 * m * W), zi[m] = simd::load_aligned(x + (2 * m + 1) * W);
  fft_dif<H, T>(zr, zi, tw);
  // A[k] = E[k] + e^(-2 pi i k/T) O[k], with E, O (the even and odd samples' spectra) untangled from Z[k] and
  // conj(Z[H-k]).
#pragma GCC unroll 32
  for (int k = 0; k <= H; ++k) {
    const int p = bit_reverse(k % H, bits), q = bit_reverse((H - k) % H, bits);
    const FloatVec sr = zr[p] + zr[q], si = sub(zi[p], zi[q]), dr = sub(zr[p], zr[q]), di = zi[p] + zi[q];
    const FloatVec c = simd::broadcast(tw.cos[k]), s = simd::broadcast(tw.sin[k]);
    simd::store(out + 2 * k * W, simd::fma(c, di, fnma(s, dr, sr)));
    simd::store(out + (2 * k + 1) * W, fnma(c, dr, fnma(s, di, si)));
  }
}

/// Inverse of row_forward (unnormalised): T/2 + 1 complex vectors in, T real vectors out.
template <int T>
inline void row_inverse(const float* in, FloatVec* x, const Tables& tw) noexcept {
  constexpr int H = T / 2, bits = log2i(H);
  FloatVec zr[H], zi[H];
#pragma GCC unroll 32
  for (int k = 0; k < H; ++k) {
    const FloatVec br = simd::load_aligned(in + 2 * k * W), bi = simd::load_aligned(in + (2 * k + 1) * W);
    const FloatVec cr = simd::load_aligned(in + 2 * (H - k) * W), ci = simd::load_aligned(in + (2 * (H - k) + 1) * W);
    const FloatVec sr = br + cr, si = sub(bi, ci), dr = sub(br, cr), di = bi + ci;
    const FloatVec c = simd::broadcast(tw.cos[k]), s = simd::broadcast(tw.sin[k]);
    const int r = bit_reverse(k, bits);
    zr[r] = fnma(c, di, fnma(s, dr, sr));
    zi[r] = simd::fma(c, dr, fnma(s, di, si));
  }
  ifft_dit<H, T>(zr, zi, tw);
#pragma GCC unroll 32
  for (int m = 0; m < H; ++m) x[2 * m] = zr[m], x[2 * m + 1] = zi[m];
}

/// Where a pass reads or writes a spectrum: bin b's real part at data + b * stride, its imaginary part `im`
/// floats further. The column passes read or write the GEMM's buffers through this directly, saving a copy of
/// a spectrum that, for T = 32, is larger than L1.
template <class F>
struct SpectrumRef {
  F* data;
  std::int64_t stride, im;
  F* re_at(std::int64_t bin) const noexcept { return data + bin * stride; }
  F* im_at(std::int64_t bin) const noexcept { return data + bin * stride + im; }
};
using Spectrum = SpectrumRef<float>;
using ConstSpectrum = SpectrumRef<const float>;

/// Column pass of the forward transform: a length-T complex FFT down each of the T/2 + 1 columns.
template <int T>
inline void columns_forward(ConstSpectrum in, Spectrum out, const Tables& tw) noexcept {
  constexpr int U = T / 2 + 1;
  for (int u = 0; u < U; ++u) {
    FloatVec re[T], im[T];
#pragma GCC unroll 32
    for (int v = 0; v < T; ++v)
      re[v] = simd::load_aligned(in.re_at(v * U + u)), im[v] = simd::load_aligned(in.im_at(v * U + u));
    fft_dif<T, T>(re, im, tw);
#pragma GCC unroll 32
    for (int v = 0; v < T; ++v) simd::store(out.re_at(v * U + u), re[v]), simd::store(out.im_at(v * U + u), im[v]);
  }
}

/// Column pass of the inverse transform (bit-reversed rows in, natural rows out); only rows [0, rows) are kept.
template <int T>
inline void columns_inverse(ConstSpectrum in, Spectrum out, int rows, const Tables& tw) noexcept {
  constexpr int U = T / 2 + 1;
  for (int u = 0; u < U; ++u) {
    FloatVec re[T], im[T];
#pragma GCC unroll 32
    for (int v = 0; v < T; ++v)
      re[v] = simd::load_aligned(in.re_at(v * U + u)), im[v] = simd::load_aligned(in.im_at(v * U + u));
    ifft_dit<T, T>(re, im, tw);
    for (int v = 0; v < rows; ++v) simd::store(out.re_at(v * U + u), re[v]), simd::store(out.im_at(v * U + u), im[v]);
  }
}

/// Complex GEMM micro-kernel for one frequency bin: Y[MR tiles][NV vectors of oc] = sum over k of
/// X[tile][k] * F[k][oc]. X comes as split real/imaginary planes (one broadcast each), F packed per k as
/// [re: NV vectors][im: NV vectors]; Y rows are [re: ocp floats][im: ocp floats] (im_offset = ocp).
template <int MR, int NV>
inline void cgemm_ukernel(std::int64_t kc, const float* __restrict xr, const float* __restrict xi, std::int64_t ldx,
                          const float* __restrict f, float* __restrict y, std::int64_t ldy,
                          std::int64_t im_offset) noexcept {
  constexpr std::int64_t NR = NV * W;
  FloatVec acc_r[MR][NV], acc_i[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc_r[i][v] = simd::broadcast(0.0f), acc_i[i][v] = simd::broadcast(0.0f);
  for (std::int64_t k = 0; k < kc; ++k) {
    FloatVec fr[NV], fi[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      fr[v] = simd::load_aligned(f + k * 2 * NR + v * W), fi[v] = simd::load_aligned(f + k * 2 * NR + NR + v * W);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const FloatVec br = simd::broadcast(xr[i * ldx + k]), bi = simd::broadcast(xi[i * ldx + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        acc_r[i][v] = fnma(bi, fi[v], simd::fma(br, fr[v], acc_r[i][v]));
        acc_i[i][v] = simd::fma(bi, fr[v], simd::fma(br, fi[v], acc_i[i][v]));
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      simd::store(y + i * ldy + v * W, acc_r[i][v]), simd::store(y + i * ldy + im_offset + v * W, acc_i[i][v]);
}

/// Tiles per micro-kernel call: the accumulators take 2 * MR * NV registers, plus 2 * NV for F and 2 broadcasts.
#if PRIMSEL_HAS_SIMD && (defined(__AVX512F__) || defined(__aarch64__))
inline constexpr int max_mr = 6;  // 24 + 4 + 2 of 32 registers
#else
inline constexpr int max_mr = 2;  // 8 + 4 + 2 of 16 registers
#endif

template <int NV, int MR = max_mr>
inline void cgemm_call(int mr, std::int64_t kc, const float* xr, const float* xi, std::int64_t ldx, const float* f,
                       float* y, std::int64_t ldy, std::int64_t im_offset) noexcept {
  if constexpr (MR >= 1) {
    if (mr == MR) return cgemm_ukernel<MR, NV>(kc, xr, xi, ldx, f, y, ldy, im_offset);
    cgemm_call<NV, MR - 1>(mr, kc, xr, xi, ldx, f, y, ldy, im_offset);
  }
}

}  // namespace detail::fft

/// FFT convolution, NCHW f32 in and out. Any kernel up to 16x16 per stride phase (32x32 at stride 2), any
/// stride, padding and dilation; not grouped. Not exact: the error is ~1e-6 of the output magnitude, and an
/// Inf or NaN input spreads to every output of its tile (its transform is all NaN), as in any FFT convolution.
struct FftConv {
  static constexpr std::string_view name = "fft_conv";
  static constexpr std::int64_t W = detail::fft::W;
  /// The largest kernel per stride phase: a 32 x 32 tile then still yields 17 x 17 outputs.
  static constexpr std::int64_t max_kernel = 16;

  /// How a layer is cut up; a pure function of the ConvDesc, so plan() and workspace_bytes() agree.
  ///
  /// Stride s is removed by polyphase splitting: input phase (py, px) of channel c is the subsampled image
  /// x[c][j*sh + py - top][i*sw + px - left], and the matching kernel phase w[r*sh + py][q*sw + px] (after
  /// dilation has spread the taps). A stride-s layer is then a stride-1 layer with IC*sh*sw channels and
  /// ceil(k/s) kernels whose output is the layer's — no wasted outputs, unlike subsampling a stride-1 result.
  struct Geometry {
    int tile = 0;                                      ///< T: the FFT size, 8, 16 or 32
    std::int64_t kh = 0, kw = 0;                       ///< kernel per phase
    std::int64_t mh = 0, mw = 0;                       ///< outputs per tile: T - k + 1
    std::int64_t icp = 0;                              ///< channels of the stride-1 problem: IC * sh * sw
    std::int64_t ocp = 0;                              ///< OC rounded up to a vector
    std::int64_t tiles_y = 0, tiles_x = 0, tiles = 0;  ///< per image (y, x) and over the batch
    std::int64_t chunk = 0;                 ///< tiles transformed per pass, bounding the frequency-domain buffers
    std::int64_t plane_h = 0, plane_w = 0;  ///< padded phase planes: every tile in bounds, rows >= a vector

    std::int64_t bins() const noexcept { return std::int64_t{tile} * (tile / 2 + 1); }
    std::int64_t x_plane() const noexcept { return round_up(chunk * icp, W); }  // floats per bin and re/im
    std::size_t x_bytes() const noexcept { return aligned(bins() * 2 * x_plane() * 4); }
    std::size_t y_bytes() const noexcept { return aligned(bins() * chunk * 2 * ocp * 4); }
    std::int64_t plane_floats() const noexcept { return plane_h * plane_w; }
    std::size_t padded_bytes(std::int64_t n) const noexcept { return aligned(n * icp * plane_floats() * 4); }
    /// Floats of one row of a tile: at least a vector, for the transposes.
    std::int64_t row_floats() const noexcept { return std::max<std::int64_t>(tile, W); }
    /// Per thread: one spectrum of W lanes, a row of W-lane vectors, then a zero row (forward) or a W x W block
    /// (inverse).
    std::size_t thread_bytes() const noexcept {
      return aligned((bins() * 2 * W + W * row_floats() + std::max(W * W, row_floats())) * 4);
    }
  };

  struct Plan {
    ConvDesc desc;
    Geometry geo;
    detail::fft::Tables tables;
    /// Spectra of the filters, conjugated (CNN "convolution" is a correlation) and scaled by 1 / (4 T^2) (the
    /// transforms are unnormalised and row_forward doubles): [bin][oc block][icp][re: nr][im: nr], oc blocks of
    /// nr = 2 W columns (the last may be W).
    Tensor filters;
    Tensor bias;  ///< [ocp], zero past OC and when the layer has none
  };

  static Support supports(const ConvDesc& d) {
    if (d.groups != 1) return Support::no("grouped (use depthwise or im2col_gemm)");
    if (std::min({d.kh, d.kw, d.sh, d.sw, d.dh, d.dw}) < 1) return Support::no("kernel, stride or dilation below 1");
    const std::int64_t kh = phase_kernel(d.kh, d.dh, d.sh), kw = phase_kernel(d.kw, d.dw, d.sw);
    if (kh == 1 && kw == 1) return Support::no("1x1 kernel per stride phase: nothing for an FFT to save (use a GEMM)");
    // Below 5x5 Winograd F(4,3) is faster on every zoo layer measured, with 1/9 to 1/45 of the spectra's memory;
    // planning FFT candidates for them cost a third of resnet18's cold start-up.
    if ((d.kh - 1) * d.dh + 1 < 5 && (d.kw - 1) * d.dw + 1 < 5) return Support::no("kernel smaller than 5x5 (Winograd's)");
    if (kh > max_kernel || kw > max_kernel) return Support::no("kernel per stride phase larger than 16x16");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {}; }
  static Format output_format(const ConvDesc&) { return {}; }

  static Geometry geometry(const ConvDesc& d) {
    Geometry best;
    double best_cost = 0;
    for (int t : {8, 16, 32}) {
      Geometry g = make_geometry(d, t);
      if (g.mh < 1 || g.mw < 1) continue;
      const double c = cost(g);
      if (best.tile == 0 || c < best_cost) best = g, best_cost = c;
    }
    return best;
  }

  /// The plan's filter spectra (bins x ICp x re/im x OCp floats) and padded bias.
  static std::size_t weight_bytes(const ConvDesc& d) {
    if (!supports(d)) return 0;
    const Geometry g = geometry(d);
    return static_cast<std::size_t>(g.bins() * g.icp * 2 * g.ocp + g.ocp) * sizeof(float);
  }

  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    if (!supports(d)) return 0;
    const Geometry g = geometry(d);
    return g.padded_bytes(d.n) + g.x_bytes() + g.y_bytes() +
           static_cast<std::size_t>(std::max(threads, 1)) * g.thread_bytes();
  }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    const Support s = supports(d);
    PRIMSEL_CHECK(s.ok, ErrorCode::unsupported, std::string(s.why) + ": " + to_string(d));
    PRIMSEL_CHECK(d.n > 0 && d.ic > 0 && d.oc > 0 && d.ih > 0 && d.iw > 0 && d.sh > 0 && d.sw > 0 && d.dh > 0 &&
                      d.dw > 0 && d.oh > 0 && d.ow > 0,
                  ErrorCode::invalid_argument, "sizes, strides and dilations must be positive: " + to_string(d));
    PRIMSEL_CHECK(d.oh == window_output_size(d.ih, d.kh, d.sh, d.pads.top, d.pads.bottom, d.dh) &&
                      d.ow == window_output_size(d.iw, d.kw, d.sw, d.pads.left, d.pads.right, d.dw),
                  ErrorCode::shape_mismatch,
                  "output size disagrees with input, kernel, stride and pads: " + to_string(d));
    PRIMSEL_CHECK(
        w.weight.shape() == Shape({d.oc, d.ic, d.kh, d.kw}) && w.weight.format() == Format{}, ErrorCode::shape_mismatch,
        "weight is " + to_string(w.weight.shape()) + " " + to_string(w.weight.format()) + " for layer " + to_string(d));
    Plan p;
    p.desc = d;
    p.geo = geometry(d);
    const Geometry& g = p.geo;
    for (int j = 0; j < g.tile; ++j) {
      const double a = 2 * std::numbers::pi * j / g.tile;
      p.tables.cos[static_cast<std::size_t>(j)] = static_cast<float>(std::cos(a));
      p.tables.sin[static_cast<std::size_t>(j)] = static_cast<float>(std::sin(a));
    }
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, g.ocp));
    PRIMSEL_ASSIGN_OR_RETURN(p.filters, Tensor::create({g.bins() * g.icp * 2 * g.ocp}));
    // Scratch for one group of W filters: a row of their taps and their spectra.
    PRIMSEL_ASSIGN_OR_RETURN(Tensor scratch, Tensor::create({std::int64_t(g.thread_bytes() / 4)}));
    with_tile(g.tile, [&]<int T>() { transform_filters<T>(p, w.weight.data<float>(), scratch.data<float>()); });
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    with_tile(p.geo.tile, [&]<int T>() { run_tiles<T>(p, in.data<float>(), out.data<float>(), ctx); });
  }

 private:
  /// Calls f.template operator()<T>() with the tile size as a constant: the transforms are compiled per T.
  template <class F>
  static void with_tile(int tile, F&& f) noexcept {
    if (tile == 8)
      f.template operator()<8>();
    else if (tile == 16)
      f.template operator()<16>();
    else
      f.template operator()<32>();
  }

  static constexpr std::int64_t round_up(std::int64_t x, std::int64_t m) noexcept { return (x + m - 1) / m * m; }
  static constexpr std::size_t aligned(std::int64_t bytes) noexcept {
    return static_cast<std::size_t>(round_up(bytes, static_cast<std::int64_t>(tensor_alignment)));
  }
  /// Taps of one stride phase of a dilated kernel.
  static constexpr std::int64_t phase_kernel(std::int64_t k, std::int64_t dil, std::int64_t stride) noexcept {
    return (dil * (k - 1) + 1 + stride - 1) / stride;
  }

  static Geometry make_geometry(const ConvDesc& d, int t) {
    Geometry g;
    g.tile = t;
    g.kh = phase_kernel(d.kh, d.dh, d.sh), g.kw = phase_kernel(d.kw, d.dw, d.sw);
    g.mh = t - g.kh + 1, g.mw = t - g.kw + 1;
    g.icp = d.ic * d.sh * d.sw;
    g.ocp = round_up(d.oc, W);
    if (g.mh < 1 || g.mw < 1) return g;
    g.tiles_y = (d.oh + g.mh - 1) / g.mh, g.tiles_x = (d.ow + g.mw - 1) / g.mw;
    g.tiles = d.n * g.tiles_y * g.tiles_x;
    g.plane_h = (g.tiles_y - 1) * g.mh + t;
    g.plane_w = (g.tiles_x - 1) * g.mw + std::max<std::int64_t>(t, W);
    // A pass's spectra (written by one stage, read by the next) should stay near L2: ~2 MiB. But each pass
    // streams all the filter spectra through the GEMM, so a pass takes at least 4 tiles to share that cost.
    const std::int64_t per_tile = g.bins() * 2 * (g.icp + g.ocp) * 4;
    g.chunk = std::min(g.tiles, std::max<std::int64_t>((std::int64_t{2} << 20) / per_tile, 4));
    return g;
  }

  /// Rough cycles of one run, to pick T. Bigger tiles waste less of each tile on the kernel's overlap, but each
  /// FFT costs more, and the filter spectra (bins x IC x OC complex) grow as T^2 — past the last-level cache,
  /// streaming them bounds the GEMM. Constants measured on Zen 5 (AVX-512, W = 16): 0.55 cycles per vector FMA,
  /// 0.35 T^2 log2(T) cycles per tile and channel for a transform, 12 bytes per cycle from L3 and 6 from DRAM.
  /// They only need to rank the three sizes.
  static double cost(const Geometry& g) {
    const double t = g.tile, tiles = static_cast<double>(g.tiles);
    const double fft = tiles * static_cast<double>(g.icp + g.ocp) * 0.35 * t * t * std::log2(t);
    const double gemm = 0.55 * tiles * static_cast<double>(g.bins() * g.icp * g.ocp) * 4 / static_cast<double>(W);
    const double filter_bytes = static_cast<double>(g.bins() * g.icp * g.ocp) * 8;
    const double passes = std::ceil(tiles / static_cast<double>(g.chunk));
    const double stream = passes * filter_bytes / (filter_bytes <= 32.0 * (1 << 20) ? 12 : 6);
    return fft + std::max(gemm, stream);
  }

  /// The filters' spectra through the same transforms as the input tiles, W output channels of one input channel
  /// at a time: each bin of the group is then one whole vector of Plan::filters.
  template <int T>
  static void transform_filters(Plan& p, const float* w, float* scratch) noexcept {
    const ConvDesc& d = p.desc;
    const Geometry& g = p.geo;
    constexpr int U = T / 2 + 1;
    float* freq = scratch;
    float* row = scratch + g.bins() * 2 * W;
    const simd::FloatVec scale = simd::broadcast(1.0f / (4.0f * T * T)),
                         minus_scale = simd::broadcast(-1.0f / (4.0f * T * T));
    for (std::int64_t c = 0; c < g.icp; ++c)
      for (std::int64_t oc0 = 0; oc0 < g.ocp; oc0 += W) {
        for (int y = 0; y < T; ++y) {
          float* out = freq + y * U * 2 * W;
          if (y >= g.kh) {  // past the phase kernel: zero rows, zero transforms
            std::fill(out, out + U * 2 * W, 0.0f);
            continue;
          }
          std::fill(row, row + T * W, 0.0f);
          for (std::int64_t l = 0; l < std::min(W, d.oc - oc0); ++l)
            for (std::int64_t x = 0; x < g.kw; ++x) row[x * W + l] = filter_tap(d, w, oc0 + l, c, y, x);
          detail::fft::row_forward<T>(row, out, p.tables);
        }
        detail::fft::columns_forward<T>({freq, 2 * W, W}, {freq, 2 * W, W}, p.tables);
        // Plan::filters: block of the pair of vectors holding oc0, then this channel's [re: nr][im: nr].
        const std::int64_t block = oc0 / (2 * W) * (2 * W), nr = std::min(2 * W, g.ocp - block);
        float* dst = p.filters.data<float>() + block * 2 * g.icp + c * 2 * nr + (oc0 - block);
        for (std::int64_t b = 0; b < g.bins(); ++b) {
          float* at = dst + b * g.icp * 2 * g.ocp;
          simd::store(at, simd::load_aligned(freq + b * 2 * W) * scale);
          simd::store(at + nr, simd::load_aligned(freq + b * 2 * W + W) * minus_scale);  // conjugate: a correlation
        }
      }
  }

  /// Tap (y, x) of output channel oc's kernel for phase channel c = (ic * sh + py) * sw + px, or 0 where the
  /// dilated kernel has a hole or has ended.
  static float filter_tap(const ConvDesc& d, const float* w, std::int64_t oc, std::int64_t c, std::int64_t y,
                          std::int64_t x) noexcept {
    const std::int64_t ic = c / (d.sh * d.sw), py = c / d.sw % d.sh, px = c % d.sw;
    const std::int64_t ry = y * d.sh + py, rx = x * d.sw + px;  // position in the dilated kernel
    if (ry % d.dh != 0 || rx % d.dw != 0 || ry / d.dh >= d.kh || rx / d.dw >= d.kw) return 0.0f;
    return w[((oc * d.ic + ic) * d.kh + ry / d.dh) * d.kw + rx / d.dw];
  }

  template <class F>
  static void parallel(const Context& ctx, std::int64_t n, F&& fn) noexcept {
    if (ctx.pool)
      ctx.pool->parallel_for(n, fn);
    else if (n > 0)
      fn(std::int64_t{0}, n, 0);
  }

  template <int T>
  static void run_tiles(const Plan& p, const float* x, float* y, const Context& ctx) noexcept {
    const Geometry& g = p.geo;
    const ConvDesc& d = p.desc;
    auto* padded = reinterpret_cast<float*>(ctx.workspace.data());
    auto* xf = reinterpret_cast<float*>(ctx.workspace.data() + g.padded_bytes(d.n));
    auto* yf = reinterpret_cast<float*>(ctx.workspace.data() + g.padded_bytes(d.n) + g.x_bytes());
    std::byte* scratch = ctx.workspace.data() + g.padded_bytes(d.n) + g.x_bytes() + g.y_bytes();
    auto thread_scratch = [&](int t) {
      return reinterpret_cast<float*>(scratch + static_cast<std::size_t>(t) * g.thread_bytes());
    };
    const std::int64_t ocv = g.ocp / W;
    parallel(ctx, d.n * g.icp, [&](std::int64_t b, std::int64_t e, int) {
      for (std::int64_t i = b; i < e; ++i) pad_plane(p, x, padded, i);
    });
    for (std::int64_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
      const std::int64_t mc = std::min(g.chunk, g.tiles - t0);
      parallel(ctx, (mc * g.icp + W - 1) / W, [&](std::int64_t b, std::int64_t e, int t) {
        for (std::int64_t group = b; group < e; ++group)
          forward_group<T>(p, padded, t0, mc, group, xf, thread_scratch(t));
      });
      parallel(ctx, g.bins(), [&](std::int64_t b, std::int64_t e, int) {
        for (std::int64_t bin = b; bin < e; ++bin) multiply_bin(p, bin, mc, xf, yf);
      });
      parallel(ctx, mc * ocv, [&](std::int64_t b, std::int64_t e, int t) {
        for (std::int64_t item = b; item < e; ++item)
          inverse_group<T>(p, y, t0, item / ocv, item % ocv, yf, thread_scratch(t));
      });
    }
  }

  /// Copies plane i = n * icp + (ic * sh + py) * sw + px of the stride-1 problem into the workspace: padded[j][q]
  /// = x[n][ic][j * sh + py - top][q * sw + px - left], zero outside the image and up to the last tile's far edge.
  /// After this every tile row is one in-bounds contiguous read, whatever the padding and stride.
  static void pad_plane(const Plan& p, const float* x, float* padded, std::int64_t i) noexcept {
    const ConvDesc& d = p.desc;
    const Geometry& g = p.geo;
    const std::int64_t n = i / g.icp, c = i % g.icp, ic = c / (d.sh * d.sw), py = c / d.sw % d.sh, px = c % d.sw;
    const float* plane = x + (n * d.ic + ic) * d.ih * d.iw;
    float* dst = padded + i * g.plane_floats();
    // Columns q with 0 <= q * sw + px - left < iw: [q_lo, q_hi).
    const std::int64_t off = px - d.pads.left;
    const std::int64_t q_lo = std::min(g.plane_w, off >= 0 ? 0 : (-off + d.sw - 1) / d.sw);
    const std::int64_t q_hi =
        std::clamp<std::int64_t>(d.iw - off <= 0 ? 0 : (d.iw - off + d.sw - 1) / d.sw, q_lo, g.plane_w);
    for (std::int64_t j = 0; j < g.plane_h; ++j) {
      float* out = dst + j * g.plane_w;
      const std::int64_t iy = j * d.sh + py - d.pads.top;
      if (iy < 0 || iy >= d.ih) {
        std::fill(out, out + g.plane_w, 0.0f);
        continue;
      }
      const float* in = plane + iy * d.iw + off;
      std::fill(out, out + q_lo, 0.0f);
      if (d.sw == 1)
        std::copy(in + q_lo, in + q_hi, out + q_lo);
      else
        for (std::int64_t q = q_lo; q < q_hi; ++q) out[q] = in[q * d.sw];
      std::fill(out + q_hi, out + g.plane_w, 0.0f);
    }
  }

  /// Forward transform of W (tile, channel) lanes — lane l is f = group * W + l = tile * icp + channel of this
  /// pass — into the split planes of xf: [bin][re: x_plane][im: x_plane].
  template <int T>
  static void forward_group(const Plan& p, const float* padded, std::int64_t t0, std::int64_t mc, std::int64_t group,
                            float* xf, float* scratch) noexcept {
    const Geometry& g = p.geo;
    constexpr int U = T / 2 + 1;
    float* freq = scratch;
    float* row = scratch + g.bins() * 2 * W;
    float* zeros = row + W * g.row_floats();  // lanes past the pass's last tile read a zero row
    std::fill(zeros, zeros + g.row_floats(), 0.0f);
    const float* origin[detail::fft::W];
    std::int64_t step[detail::fft::W];
    for (std::int64_t l = 0; l < W; ++l) {
      const std::int64_t f = group * W + l;
      origin[l] = zeros, step[l] = 0;
      if (f >= mc * g.icp) continue;
      const std::int64_t tile = t0 + f / g.icp, c = f % g.icp;
      const std::int64_t n = tile / (g.tiles_y * g.tiles_x), ty = tile / g.tiles_x % g.tiles_y, tx = tile % g.tiles_x;
      origin[l] = padded + (n * g.icp + c) * g.plane_floats() + ty * g.mh * g.plane_w + tx * g.mw;
      step[l] = g.plane_w;
    }
    for (int r = 0; r < T; ++r) {
      for (int xb = 0; xb < T; xb += W) {
        const float* src[detail::fft::W];
        for (int l = 0; l < W; ++l) src[l] = origin[l] + r * step[l] + xb;
        detail::fft::transpose(src, row + xb * W);
      }
      detail::fft::row_forward<T>(row, freq + r * U * 2 * W, p.tables);
    }
    detail::fft::columns_forward<T>({freq, 2 * W, W}, {xf + group * W, 2 * g.x_plane(), g.x_plane()}, p.tables);
  }

  /// One frequency bin: yf[tile][bin][re/im][ocp] = xf[bin][tile][icp] x filters[bin][icp][ocp], complex. Tile-major
  /// yf lets each inverse transform read its spectrum as one stream.
  static void multiply_bin(const Plan& p, std::int64_t bin, std::int64_t mc, const float* xf, float* yf) noexcept {
    const Geometry& g = p.geo;
    const float* xr = xf + bin * 2 * g.x_plane();
    const float* xi = xr + g.x_plane();
    const float* f = p.filters.data<float>() + bin * g.icp * 2 * g.ocp;
    float* yb = yf + bin * 2 * g.ocp;
    const std::int64_t ldy = g.bins() * 2 * g.ocp;
    for (std::int64_t oc0 = 0; oc0 < g.ocp; oc0 += 2 * W) {
      const bool pair = g.ocp - oc0 >= 2 * W;
      const float* fb = f + oc0 * 2 * g.icp;
      for (std::int64_t t = 0; t < mc; t += detail::fft::max_mr) {
        const int mr = static_cast<int>(std::min<std::int64_t>(detail::fft::max_mr, mc - t));
        float* yt = yb + t * ldy + oc0;
        if (pair)
          detail::fft::cgemm_call<2>(mr, g.icp, xr + t * g.icp, xi + t * g.icp, g.icp, fb, yt, ldy, g.ocp);
        else
          detail::fft::cgemm_call<1>(mr, g.icp, xr + t * g.icp, xi + t * g.icp, g.icp, fb, yt, ldy, g.ocp);
      }
    }
  }

  /// Inverse transform of one tile for W output channels (vector ocv of ocp), with bias and clamp, into NCHW.
  template <int T>
  static void inverse_group(const Plan& p, float* y, std::int64_t t0, std::int64_t tc, std::int64_t ocv,
                            const float* yf, float* scratch) noexcept {
    const ConvDesc& d = p.desc;
    const Geometry& g = p.geo;
    constexpr int U = T / 2 + 1;
    float* freq = scratch;
    float* row = scratch + g.bins() * 2 * W;
    const std::int64_t tile = t0 + tc;
    const std::int64_t n = tile / (g.tiles_y * g.tiles_x), oy0 = tile / g.tiles_x % g.tiles_y * g.mh,
                       ox0 = tile % g.tiles_x * g.mw;
    const std::int64_t rows = std::min(g.mh, d.oh - oy0), cols = std::min(g.mw, d.ow - ox0);
    const float* spectrum = yf + tc * g.bins() * 2 * g.ocp + ocv * W;
    detail::fft::columns_inverse<T>({spectrum, 2 * g.ocp, g.ocp}, {freq, 2 * W, W}, static_cast<int>(rows), p.tables);
    const std::int64_t oc0 = ocv * W, lanes = std::min(W, d.oc - oc0);
    const simd::FloatVec bias = simd::load_aligned(p.bias.data<float>() + oc0);
    const simd::FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
    float* block = row + W * g.row_floats();               // one transposed W x W block: [lane][column]
    if (T < W) std::fill(row + T * W, row + W * W, 0.0f);  // columns past the tile, transposed but never stored
    for (std::int64_t r = 0; r < rows; ++r) {
      simd::FloatVec v[T];
      detail::fft::row_inverse<T>(freq + r * U * 2 * W, v, p.tables);
      for (int c = 0; c < T; ++c) simd::store(row + c * W, simd::clamp(v[c] + bias, lo, hi));
      float* dst = y + ((n * d.oc + oc0) * d.oh + oy0 + r) * d.ow + ox0;
      // Whole vectors per output row: a ragged last block is moved back to end at `cols`, overlapping the
      // previous one (same values written twice) — far cheaper than a short copy per channel.
      for (std::int64_t c = 0; c < cols; c += W) {
        const std::int64_t c0 = cols >= W ? std::min(c, cols - W) : 0;
        const float* columns[detail::fft::W];
        for (int i = 0; i < W; ++i) columns[i] = row + (c0 + i) * W;
        detail::fft::transpose(columns, block);
        for (std::int64_t l = 0; l < lanes; ++l) {
          if (cols >= W)
            simd::store(dst + l * d.oh * d.ow + c0, simd::load_aligned(block + l * W));
          else
            detail::fft::store_partial(dst + l * d.oh * d.ow, block + l * W, cols);
        }
      }
    }
  }
};
static_assert(ConvPrimitive<FftConv>);

}  // namespace primsel
