// u8 x s8 -> s32 GEMM micro-kernels, MR x NR tiles over K in groups of 4 ("c4", the operand shape of the
// 4-way byte dot products): A packed as [k/4][MR][4] bytes, B as [k/4][NR][4]. One kernel per ISA:
// AVX-512 VNNI (vpdpbusd zmm), AVX-VNNI (vpdpbusd ymm), AVX2 (vpmaddubsw + vpmaddwd: exact only for
// activations in [0, 127]), NEON dot product (sdot: s8 x s8, so A is stored as a - 128) and a scalar kernel that
// always compiles and is the reference. Also the output stage of a row: zero-point correction, bias,
// requantisation to u8 (quant::requantize, vectorised bit-exactly) or plain s32; and the same stage done in
// registers (u8s8_requantize64), which the AVX-512 kernels' fused variants (gemm::u8s8_kernel_for picks them at
// small K) and the depthwise kernel finish with.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "primsel/core/simd.hpp"
#include "primsel/quant/quantize.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#endif

namespace primsel::kernels {

/// c[i * ldc + j] (+)= sum over k of A[i][k] * B[k][j] for an MR x NR tile, k over `k4` groups of 4. Group g of
/// row i of A is the 4 bytes at a + i * a_row + g * a_group: packed A has a_row = 4, a_group = MR * 4; row-major A
/// read in place has a_row = lda, a_group = 4. `accumulate` false overwrites c (first K block).
using U8S8UkernelFn = void (*)(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                               const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept;

struct U8S8FusedStage;
/// As U8S8UkernelFn, but the kernel finishes its tile: it starts from stage.corr (plus `partial`, the s32 sums of
/// earlier K blocks with row stride ldp, when not null), requantises in registers and stores rows [0, rows) and
/// columns [0, cols) as u8 at out (row stride ldo).
using U8S8RequantFn = void (*)(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                               const std::int8_t* b, const std::int32_t* partial, std::int64_t ldp,
                               const U8S8FusedStage& stage, std::int64_t rows, std::int64_t cols, std::uint8_t* out,
                               std::int64_t ldo) noexcept;

/// A micro-kernel and what its packing needs to know.
struct U8S8Ukernel {
  std::string_view name;  ///< XNNPACK-style: datatypes, op, tile, ISA
  int mr = 1, nr = 1;
  U8S8UkernelFn fn = nullptr;
  /// Packing stores A as a ^ a_xor: 0x80 turns u8 into s8 = a - 128 for s8 x s8 dot products; the GEMM then
  /// corrects with zero point - 128.
  std::uint8_t a_xor = 0;
  /// Activations the kernel is exact for; quantise activations into this range (u8_7bit_range for vpmaddubsw).
  quant::QRange a_range = quant::u8_range;
  /// Reads A through a_row / a_group (so row-major A can skip packing); false: only the packed layout.
  bool strided_a = true;
  /// The same tile with the output stage in registers (u8 output without an s32 round trip), if the ISA has one.
  U8S8RequantFn requant = nullptr;
};

namespace detail {
inline std::int32_t load_u32(const void* p) noexcept {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------
// Requantisation in registers, for kernels that finish their tile without an s32 round trip (the GEMM's fused
// epilogue, the depthwise kernel)

/// The form of a tile's requantisation. `general` is quant::requantize on 64-bit products. `high` needs every
/// shift s >= 33 (multipliers below 1/4, as in any layer whose outputs span more than a few accumulator units):
/// for an integer P = |v| * multiplier, floor((P + 2^(s-1)) / 2^s) = (floor(P / 2^32) + 2^(s-33)) >> (s - 32)
/// (nested floor division), so only the high dwords of the products are needed, in 32-bit lanes. `high_nonneg`
/// also needs lo >= zero_point (Relu, Relu6): a negative accumulator then clamps to lo whatever its magnitude, so
/// max(v, 0) replaces the sign handling.
enum class U8S8Requant { general, high, high_nonneg };

/// Per-column constants of an in-register output stage, from the tile's first column. Arrays are read in whole
/// vectors and `mult` one element further (the odd lanes' multipliers), so they are padded past the last column.
struct U8S8FusedStage {
  const std::int32_t* corr = nullptr;   ///< bias - a_zero_point * colsum: the accumulators' start value
  const std::int32_t* mult = nullptr;   ///< Q31 multiplier
  const std::int32_t* shift = nullptr;  ///< general: the shift s; high: s - 32
  const std::int32_t* round = nullptr;  ///< high: 2^(s - 33)
  std::int32_t zero_point = 0, lo = 0, hi = 255;
  U8S8Requant mode = U8S8Requant::general;
};

/// Whether the in-register packing is exact for these output parameters: it saturates to s16, adds the zero point
/// with saturation and clamps bytes, which equals clamping the int32 result only for bounds inside [0, 255].
constexpr bool u8s8_fusable(std::int32_t zero_point, std::int32_t lo, std::int32_t hi) noexcept {
  return 0 <= lo && lo <= hi && hi <= 255 && zero_point >= -16384 && zero_point <= 16384;
}

/// Whether the bytes need clamping to [lo, hi] after the saturating packs: not for the whole byte range (a Relu6
/// or Relu layer calibrated on its own outputs has lo = 0 and, as its range's top is clipped, hi = 255).
constexpr bool u8s8_clamp_needed(std::int32_t lo, std::int32_t hi) noexcept { return lo > 0 || hi < 255; }

/// A column's `high` constants (shift - 32 and round, as U8S8FusedStage holds them); false when it needs `general`.
/// A zero multiplier (reals below 2^-32) maps everything to 0 in either form.
constexpr bool u8s8_high_form(std::int32_t mult, std::int32_t shift, std::int32_t& high_shift,
                              std::int32_t& round) noexcept {
  if (mult == 0) return high_shift = 1, round = 0, true;
  if (shift < 33) return false;
  return high_shift = shift - 32, round = std::int32_t{1} << (shift - 33), true;
}

/// Whether a `high_nonneg` column may fold the zero point into its rounding constant (u8s8_requantize64_folded):
/// round + zero_point * 2^(shift - 32) with products' high dwords below 2^30 must stay a non-negative int32.
constexpr bool u8s8_foldable(std::int32_t high_shift, std::int32_t zero_point) noexcept {
  return 0 <= zero_point && zero_point <= 255 && high_shift <= 21;
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
namespace detail {
// Zero-masked forms with a full mask: GCC 12's unmasked ones pass an undefined operand that -Wall reports once
// inlined (PR 105593); the instructions are the same.
inline constexpr __mmask8 all8 = 0xFF;
inline constexpr __mmask16 all16 = 0xFFFF;
}  // namespace detail

// quant::requantize on 16 lanes: |v| * multiplier as unsigned 32x32->64 products of the even and the odd lanes,
// + 2^(shift-1), >> shift. The magnitude is capped at 2^16 before narrowing (only reals >= 1 can exceed 32 bits):
// any value that large clamps to the same byte.
inline __m512i u8s8_requantize16(__m512i v, __m512i mult, __m512i shift, std::int32_t zero_point, std::int32_t lo,
                                 std::int32_t hi) noexcept {
  using detail::all8, detail::all16;
  const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFF), one = _mm512_set1_epi64(1), cap = _mm512_set1_epi64(0xFFFF);
  const __m512i mag = _mm512_maskz_abs_epi32(all16, v);
  const __m512i s_even = _mm512_and_si512(shift, lo32), s_odd = _mm512_maskz_srli_epi64(all8, shift, 32);
  auto round_shift = [&](__m512i p, __m512i s) {
    const __m512i half = _mm512_maskz_sllv_epi64(all8, one, _mm512_sub_epi64(s, one));
    return _mm512_maskz_min_epu64(all8, _mm512_maskz_srlv_epi64(all8, _mm512_add_epi64(p, half), s), cap);
  };
  const __m512i p_even = round_shift(_mm512_maskz_mul_epu32(all8, mag, mult), s_even);
  const __m512i p_odd = round_shift(
      _mm512_maskz_mul_epu32(all8, _mm512_maskz_srli_epi64(all8, mag, 32), _mm512_maskz_srli_epi64(all8, mult, 32)),
      s_odd);
  __m512i r = _mm512_or_si512(p_even, _mm512_maskz_slli_epi64(all8, p_odd, 32));
  const __m512i zero = _mm512_setzero_si512();
  r = _mm512_mask_sub_epi32(r, _mm512_cmplt_epi32_mask(v, zero), zero, r);
  r = _mm512_add_epi32(r, _mm512_set1_epi32(zero_point));
  r = _mm512_maskz_max_epi32(all16, r, _mm512_set1_epi32(lo));
  return _mm512_maskz_min_epi32(all16, r, _mm512_set1_epi32(hi));
}

/// The `high` form on 16 lanes, without zero point and clamp: sign(v) * round(|v| * multiplier / 2^s) (NonNeg:
/// max(v, 0) instead of |v|, for the caller that clamps negatives away). Two multiplies, one masked dword shuffle
/// that gathers the products' high halves, a round and a variable shift.
template <bool NonNeg>
inline __m512i u8s8_requantize16_high(__m512i v, const std::int32_t* mult, const std::int32_t* shift,
                                      const std::int32_t* round) noexcept {
  using detail::all8, detail::all16;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i mag = NonNeg ? _mm512_maskz_max_epi32(all16, v, zero) : _mm512_maskz_abs_epi32(all16, v);
  const __m512i p_even = _mm512_maskz_mul_epu32(all8, mag, _mm512_loadu_si512(mult));
  // The odd lanes moved down by a dword shuffle (port 5), not a 64-bit shift: with 512-bit vectors the dot products,
  // the multiplies and the shifts all compete for port 0 on Intel cores.
  const __m512i p_odd =
      _mm512_maskz_mul_epu32(all8, _mm512_maskz_shuffle_epi32(all16, mag, _MM_PERM_DDBB), _mm512_loadu_si512(mult + 1));
  // Even lanes take the high dword of p_even's qword, odd lanes already hold p_odd's.
  __m512i r = _mm512_mask_shuffle_epi32(p_odd, 0x5555, p_even, _MM_PERM_DDBB);
  r = _mm512_maskz_srlv_epi32(all16, _mm512_add_epi32(r, _mm512_loadu_si512(round)), _mm512_loadu_si512(shift));
  if constexpr (NonNeg) return r;
  return _mm512_mask_sub_epi32(r, _mm512_cmplt_epi32_mask(v, zero), zero, r);
}

/// `high_nonneg` in fewer instructions (the depthwise kernel's): round_zp = 2^(s-33) + zero_point * 2^(s-32) folds
/// the zero point in exactly (floor((x + z 2^k) / 2^k) = floor(x / 2^k) + z), and signed products with an
/// arithmetic shift replace max(v, 0): a negative v gives floor(v * real + 1/2) <= 0, so a byte <= zero_point,
/// which the clamp to lo >= zero_point makes lo as the exact value would be. Needs 0 <= zero_point <= lo and
/// u8s8_foldable for every column; bytes ordered as u8s8_requantize64's (vectors from NV on are not needed).
/// Clamp = false leaves out the byte clamp, for [lo, hi] = [0, 255] (u8s8_clamp_needed): the saturating packs
/// already clamp there, so the bytes are the same.
template <int NV = 4, bool Clamp = true>
inline __m512i u8s8_requantize64_folded(const __m512i (&acc)[4], const std::int32_t* mult, const std::int32_t* shift,
                                        const std::int32_t* round_zp, std::int32_t lo, std::int32_t hi) noexcept {
  using detail::all8, detail::all16;
  const __m512i zero = _mm512_setzero_si512();
  __m512i r[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    if (q >= NV) {
      r[q] = zero;
      continue;
    }
    const __m512i v = acc[q];
    const __m512i p_even = _mm512_maskz_mul_epi32(all8, v, _mm512_loadu_si512(mult + 16 * q));
    const __m512i p_odd = _mm512_maskz_mul_epi32(all8, _mm512_maskz_shuffle_epi32(all16, v, _MM_PERM_DDBB),
                                                 _mm512_loadu_si512(mult + 16 * q + 1));
    const __m512i high = _mm512_mask_shuffle_epi32(p_odd, 0x5555, p_even, _MM_PERM_DDBB);
    r[q] = _mm512_maskz_srav_epi32(all16, _mm512_add_epi32(high, _mm512_loadu_si512(round_zp + 16 * q)),
                                   _mm512_loadu_si512(shift + 16 * q));
  }
  const __m512i b = _mm512_packus_epi16(_mm512_packs_epi32(r[0], r[1]), _mm512_packs_epi32(r[2], r[3]));
  if constexpr (!Clamp) return b;
  return _mm512_min_epu8(_mm512_max_epu8(b, _mm512_set1_epi8(static_cast<char>(lo))),
                         _mm512_set1_epi8(static_cast<char>(hi)));
}

/// Four vectors of 16 accumulators, in lane order, requantised with the constants of `st` from column j and packed
/// to 64 bytes by two saturating pack stages. The packs interleave within 128-bit lanes: byte 16 * l + 4 * q + i
/// holds vector q's lane 4 * l + i. Vectors from NV on are not needed (their bytes are garbage).
template <U8S8Requant Mode, int NV = 4>
inline __m512i u8s8_requantize64(const __m512i (&acc)[4], const U8S8FusedStage& st, std::int64_t j) noexcept {
  __m512i r[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const std::int64_t c = j + 16 * q;
    if (q >= NV) {
      r[q] = _mm512_setzero_si512();
      continue;
    }
    if constexpr (Mode == U8S8Requant::general)
      r[q] = u8s8_requantize16(acc[q], _mm512_loadu_si512(st.mult + c), _mm512_loadu_si512(st.shift + c), st.zero_point,
                               st.lo, st.hi);
    else
      r[q] = u8s8_requantize16_high<Mode == U8S8Requant::high_nonneg>(acc[q], st.mult + c, st.shift + c, st.round + c);
  }
  __m512i w01 = _mm512_packs_epi32(r[0], r[1]), w23 = _mm512_packs_epi32(r[2], r[3]);
  if constexpr (Mode == U8S8Requant::general) return _mm512_packus_epi16(w01, w23);  // already in [lo, hi]
  // Saturated at s16 a value stays beyond [0, 255] after adding any zero point in +-2^14: clamping still agrees.
  const __m512i zp = _mm512_set1_epi16(static_cast<std::int16_t>(st.zero_point));
  w01 = _mm512_adds_epi16(w01, zp), w23 = _mm512_adds_epi16(w23, zp);
  const __m512i b = _mm512_packus_epi16(w01, w23);
  return _mm512_min_epu8(_mm512_max_epu8(b, _mm512_set1_epi8(static_cast<char>(st.lo))),
                         _mm512_set1_epi8(static_cast<char>(st.hi)));
}
#endif

// ---- portable reference (always compiled) ----
template <int MR, int NR>
void u8s8_gemm_scalar(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                      const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept {
  std::int32_t acc[MR][NR] = {};
  for (std::int64_t k = 0; k < k4; ++k)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        for (int t = 0; t < 4; ++t)
          acc[i][j] += std::int32_t{a[i * a_row + k * a_group + t]} * std::int32_t{b[(k * NR + j) * 4 + t]};
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
template <int MR, int NV>
void u8s8_gemm_avx512vnni(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                          const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept {
  __m512i acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();
  for (std::int64_t k = 0; k < k4; ++k) {
    __m512i bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_si512(b + (k * NV + v) * 64);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512i av = _mm512_set1_epi32(detail::load_u32(a + i * a_row + k * a_group));
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      std::int32_t* p = c + i * ldc + v * 16;
      __m512i r = acc[i][v];
      if (accumulate) r = _mm512_add_epi32(r, _mm512_loadu_si512(p));
      _mm512_storeu_si512(p, r);
    }
}

// An MR x 16 * NVP tile (B panels NVP vectors wide), finished in registers: accumulators start at the column
// corrections, and each row is requantised, packed to bytes and stored with a byte mask for the last columns.
// NV < NVP serves a narrow last tile without the dot products and requantisation of absent columns.
template <int MR, int NVP, int NV, U8S8Requant Mode>
__attribute__((always_inline)) inline void u8s8_gemm_requant_avx512vnni_body(
    std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group, const std::int8_t* b,
    const std::int32_t* partial, std::int64_t ldp, const U8S8FusedStage& st, std::int64_t rows, std::int64_t cols,
    std::uint8_t* out, std::int64_t ldo) noexcept {
  __m512i acc[MR][4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    const __m512i corr = v < NV ? _mm512_loadu_si512(st.corr + 16 * v) : _mm512_setzero_si512();
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      acc[i][v] = partial && v < NV ? _mm512_add_epi32(corr, _mm512_loadu_si512(partial + i * ldp + 16 * v)) : corr;
  }
  for (std::int64_t k = 0; k < k4; ++k) {
    __m512i bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_si512(b + (k * NVP + v) * 64);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512i av = _mm512_set1_epi32(detail::load_u32(a + i * a_row + k * a_group));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], av, bv[v]);
    }
  }
  // Dword 4 * l + q of the packed row holds columns 16 * q + 4 * l .. + 3 (see u8s8_requantize64).
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __mmask64 mask = cols >= 64 ? ~__mmask64{0} : (__mmask64{1} << cols) - 1;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    const __m512i bytes = u8s8_requantize64<Mode, NV>(acc[i], st, 0);
    _mm512_mask_storeu_epi8(out + i * ldo, mask, _mm512_maskz_permutexvar_epi32(detail::all16, order, bytes));
  }
}

// One indirect call per tile (the kernel table's): the form and the tile's width are branches to inlined bodies
// (two more indirect calls per tile cost ~10% at K = 16).
template <int MR, int NVP>
void u8s8_gemm_requant_avx512vnni(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                                  const std::int8_t* b, const std::int32_t* partial, std::int64_t ldp,
                                  const U8S8FusedStage& st, std::int64_t rows, std::int64_t cols, std::uint8_t* out,
                                  std::int64_t ldo) noexcept {
  auto run = [&]<U8S8Requant Mode>() {
    auto body = [&]<int NV>() {
      u8s8_gemm_requant_avx512vnni_body<MR, NVP, std::min(NV, NVP), Mode>(k4, a, a_row, a_group, b, partial, ldp, st,
                                                                          rows, cols, out, ldo);
    };
    if (cols <= 16)
      body.template operator()<1>();
    else if (cols <= 32)
      body.template operator()<2>();
    else if (cols <= 48)
      body.template operator()<3>();
    else
      body.template operator()<4>();
  };
  if (st.mode == U8S8Requant::general)
    run.template operator()<U8S8Requant::general>();
  else if (st.mode == U8S8Requant::high)
    run.template operator()<U8S8Requant::high>();
  else
    run.template operator()<U8S8Requant::high_nonneg>();
}
#endif

#if defined(__AVX2__)
// Shared by AVX-VNNI (Dot = vpdpbusd) and plain AVX2 (Dot = vpmaddubsw, which sums byte-product pairs into int16
// with saturation, + vpmaddwd by ones into int32).
template <int MR, int NV, class Dot>
inline void u8s8_gemm_avx2_body(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                                const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate,
                                Dot dot) noexcept {
  __m256i acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_si256();
  for (std::int64_t k = 0; k < k4; ++k) {
    __m256i bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + (k * NV + v) * 32));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256i av = _mm256_set1_epi32(detail::load_u32(a + i * a_row + k * a_group));
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = dot(acc[i][v], av, bv[v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      auto* p = reinterpret_cast<__m256i*>(c + i * ldc + v * 8);
      __m256i r = acc[i][v];
      if (accumulate) r = _mm256_add_epi32(r, _mm256_loadu_si256(p));
      _mm256_storeu_si256(p, r);
    }
}

template <int MR, int NV>
void u8s8_gemm_avx2(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                    const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept {
  const __m256i ones = _mm256_set1_epi16(1);
  u8s8_gemm_avx2_body<MR, NV>(k4, a, a_row, a_group, b, c, ldc, accumulate, [ones](__m256i acc, __m256i x, __m256i w) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones));
  });
}
#endif

#if defined(__AVXVNNI__)
template <int MR, int NV>
void u8s8_gemm_avxvnni(std::int64_t k4, const std::uint8_t* a, std::int64_t a_row, std::int64_t a_group,
                       const std::int8_t* b, std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept {
  u8s8_gemm_avx2_body<MR, NV>(k4, a, a_row, a_group, b, c, ldc, accumulate,
                              [](__m256i acc, __m256i x, __m256i w) { return _mm256_dpbusd_avx_epi32(acc, x, w); });
}
#endif

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
// 4 rows x NV * 4 columns: one 16-byte load of packed A holds the 4 rows' groups, broadcast lane by lane (so
// packed A only: a_row = 4, a_group = 16).
template <int NV>
void u8s8_gemm_neondot(std::int64_t k4, const std::uint8_t* a, std::int64_t, std::int64_t, const std::int8_t* b,
                       std::int32_t* c, std::int64_t ldc, bool accumulate) noexcept {
  int32x4_t acc[4][NV];
  for (int i = 0; i < 4; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = vdupq_n_s32(0);
  for (std::int64_t k = 0; k < k4; ++k) {
    const int8x16_t av = vreinterpretq_s8_u8(vld1q_u8(a + k * 16));
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const int8x16_t bv = vld1q_s8(b + (k * NV + v) * 16);
      acc[0][v] = vdotq_laneq_s32(acc[0][v], bv, av, 0);
      acc[1][v] = vdotq_laneq_s32(acc[1][v], bv, av, 1);
      acc[2][v] = vdotq_laneq_s32(acc[2][v], bv, av, 2);
      acc[3][v] = vdotq_laneq_s32(acc[3][v], bv, av, 3);
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int v = 0; v < NV; ++v) {
      std::int32_t* p = c + i * ldc + v * 4;
      vst1q_s32(p, accumulate ? vaddq_s32(acc[i][v], vld1q_s32(p)) : acc[i][v]);
    }
}
#endif

/// Every kernel compiled for this target, best first; the scalar reference is always there (tests sweep them all).
inline constexpr auto u8s8_kernels = std::to_array<U8S8Ukernel>({
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
  // 6 x 64: 24 of 32 zmm accumulate, as in the f32 kernel; 8x48, 12x32, 14x32 measured within noise on Zen 5.
  {"u8s8-gemm-6x64c4-avx512vnni", 6, 64, &u8s8_gemm_avx512vnni<6, 4>},
      // The output stage in registers, for small K (MobileNet's 1x1 layers: K 16-192) where it costs more than the dot
      // products; gemm::u8s8_kernel_for picks by N. XNNPACK's qs8 MRxNRc4 kernels keep their output stage in registers
      // too. On Zen 5 the 6 x 64 one measured 0.5-1.0x the unfused GEMM (requantising beside 24 accumulators spills);
      // on a Sapphire Rapids class Xeon 1-4x faster at K <= 160, and the narrower tiles fit N = 16, 24, 96, 144.
      // (12x16 and 4x64 measured no better than 8x32 at N = 16 and worse at N >= 96.)
      {"u8s8-gemm-6x64c4-fused-avx512vnni", 6, 64, &u8s8_gemm_avx512vnni<6, 4>, 0, quant::u8_range, true,
       &u8s8_gemm_requant_avx512vnni<6, 4>},
      {"u8s8-gemm-5x48c4-fused-avx512vnni", 5, 48, &u8s8_gemm_avx512vnni<5, 3>, 0, quant::u8_range, true,
       &u8s8_gemm_requant_avx512vnni<5, 3>},
      {"u8s8-gemm-8x32c4-fused-avx512vnni", 8, 32, &u8s8_gemm_avx512vnni<8, 2>, 0, quant::u8_range, true,
       &u8s8_gemm_requant_avx512vnni<8, 2>},
#endif
#if defined(__AVXVNNI__)
      {"u8s8-gemm-6x16c4-avxvnni", 6, 16, &u8s8_gemm_avxvnni<6, 2>},
#endif
#if defined(__AVX2__)
      // 4 x 16: the products need a temporary and a ones register besides the 8 accumulators.
      {"u8s8-gemm-4x16c4-avx2", 4, 16, &u8s8_gemm_avx2<4, 2>, 0, quant::u8_7bit_range},
#endif
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
      {"u8s8-gemm-4x16c4-neondot", 4, 16, &u8s8_gemm_neondot<4>, 0x80, quant::u8_range, false},
#endif
      {"u8s8-gemm-4x8c4-scalar", 4, 8, &u8s8_gemm_scalar<4, 8>},
});

/// The kernel the GEMM uses by default: the best one compiled (PRIMSEL_FORCE_SCALAR: the scalar one).
#if defined(PRIMSEL_FORCE_SCALAR)
inline constexpr U8S8Ukernel u8s8_default_ukernel = u8s8_kernels.back();
#else
inline constexpr U8S8Ukernel u8s8_default_ukernel = u8s8_kernels.front();
#endif

// ---------------------------------------------------------------------------------------------------------------
// Output stage of one row of s32 accumulators

/// What happens to a finished accumulator of column j (all pointers indexed by global column):
///   v = acc - a_zero_point * colsum[j] + bias[j]              (int32, wrapping: exact while |v| < 2^31)
///   s32 output: v;  u8 output: quant::requantize(v, {multiplier[j], shift[j]}, zero_point, lo, hi)
struct U8S8Epilogue {
  const std::int32_t* colsum = nullptr;  ///< column sums of B (the packed B holds them)
  std::int32_t a_zero_point = 0;         ///< as the kernel sees A (zero point - 128 when it stores a ^ 0x80)
  const std::int32_t* bias = nullptr;    ///< optional
  const std::int32_t* multiplier = nullptr;
  const std::int32_t* shift = nullptr;
  std::int32_t zero_point = 0, lo = 0, hi = 255;
};

inline std::int32_t u8s8_corrected(std::int32_t acc, std::int64_t j, const U8S8Epilogue& e) noexcept {
  std::uint32_t v = static_cast<std::uint32_t>(acc) -
                    static_cast<std::uint32_t>(e.a_zero_point) * static_cast<std::uint32_t>(e.colsum[j]);
  if (e.bias) v += static_cast<std::uint32_t>(e.bias[j]);
  return static_cast<std::int32_t>(v);
}

/// Row of n s32 outputs from columns [j0, j0 + n).
inline void u8s8_output_s32(const std::int32_t* acc, std::int64_t j0, std::int64_t n, const U8S8Epilogue& e,
                            std::int32_t* out) noexcept {
  for (std::int64_t j = 0; j < n; ++j) out[j] = u8s8_corrected(acc[j], j0 + j, e);
}

inline void u8s8_requantize_scalar(const std::int32_t* acc, std::int64_t j0, std::int64_t n, const U8S8Epilogue& e,
                                   std::uint8_t* out) noexcept {
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t g = j0 + j;
    out[j] = static_cast<std::uint8_t>(
        quant::requantize(u8s8_corrected(acc[j], g, e), {e.multiplier[g], e.shift[g]}, e.zero_point, e.lo, e.hi));
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
inline void u8s8_requantize_avx512(const std::int32_t* acc, std::int64_t j0, std::int64_t n, const U8S8Epilogue& e,
                                   std::uint8_t* out) noexcept {
  const __m512i zpa = _mm512_set1_epi32(e.a_zero_point);
  for (std::int64_t j = 0; j < n; j += 16) {
    const auto mask = static_cast<__mmask16>(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
    const std::int64_t g = j0 + j;
    __m512i v = _mm512_maskz_loadu_epi32(mask, acc + j);
    v = _mm512_sub_epi32(v, _mm512_mullo_epi32(zpa, _mm512_maskz_loadu_epi32(mask, e.colsum + g)));
    if (e.bias) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(mask, e.bias + g));
    // Masked-off lanes get shift 1, keeping the rounding shift in range.
    const __m512i shift = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), mask, e.shift + g);
    const __m512i r =
        u8s8_requantize16(v, _mm512_maskz_loadu_epi32(mask, e.multiplier + g), shift, e.zero_point, e.lo, e.hi);
    _mm512_mask_cvtepi32_storeu_epi8(out + j, mask, r);
  }
}
#endif

#if defined(__AVX2__)
inline void u8s8_requantize_avx2(const std::int32_t* acc, std::int64_t j0, std::int64_t n, const U8S8Epilogue& e,
                                 std::uint8_t* out) noexcept {
  const __m256i zpa = _mm256_set1_epi32(e.a_zero_point), one = _mm256_set1_epi64x(1), cap = _mm256_set1_epi64x(0xFFFF);
  const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFF);
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const std::int64_t g = j0 + j;
    auto load = [](const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
    __m256i v = _mm256_sub_epi32(load(acc + j), _mm256_mullo_epi32(zpa, load(e.colsum + g)));
    if (e.bias) v = _mm256_add_epi32(v, load(e.bias + g));
    const __m256i mult = load(e.multiplier + g), shift = load(e.shift + g);
    const __m256i mag = _mm256_abs_epi32(v);
    const __m256i s_even = _mm256_and_si256(shift, lo32), s_odd = _mm256_srli_epi64(shift, 32);
    __m256i pe = _mm256_mul_epu32(mag, mult);
    __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(mag, 32), _mm256_srli_epi64(mult, 32));
    pe = _mm256_srlv_epi64(_mm256_add_epi64(pe, _mm256_sllv_epi64(one, _mm256_sub_epi64(s_even, one))), s_even);
    po = _mm256_srlv_epi64(_mm256_add_epi64(po, _mm256_sllv_epi64(one, _mm256_sub_epi64(s_odd, one))), s_odd);
    // Products stay below 2^63, so the signed 64-bit compare is an unsigned one here.
    pe = _mm256_blendv_epi8(pe, cap, _mm256_cmpgt_epi64(pe, cap));
    po = _mm256_blendv_epi8(po, cap, _mm256_cmpgt_epi64(po, cap));
    __m256i r = _mm256_sign_epi32(_mm256_or_si256(pe, _mm256_slli_epi64(po, 32)), v);
    r = _mm256_add_epi32(r, _mm256_set1_epi32(e.zero_point));
    r = _mm256_min_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(e.lo)), _mm256_set1_epi32(e.hi));
    // Values are in [0, 255]: pack to bytes; each 128-bit half then starts with its 4 values.
    const __m256i bytes = _mm256_packus_epi16(_mm256_packus_epi32(r, r), _mm256_packus_epi32(r, r));
    const std::int32_t lo4 = _mm_cvtsi128_si32(_mm256_castsi256_si128(bytes));
    const std::int32_t hi4 = _mm_cvtsi128_si32(_mm256_extracti128_si256(bytes, 1));
    std::memcpy(out + j, &lo4, 4);
    std::memcpy(out + j + 4, &hi4, 4);
  }
  u8s8_requantize_scalar(acc + j, j0 + j, n - j, e, out + j);
}
#endif

/// Row of n u8 outputs from columns [j0, j0 + n) (`acc` points at column j0's accumulator).
inline void u8s8_output_u8(const std::int32_t* acc, std::int64_t j0, std::int64_t n, const U8S8Epilogue& e,
                           std::uint8_t* out) noexcept {
#if defined(__AVX512F__) && defined(__AVX512BW__) && !defined(PRIMSEL_FORCE_SCALAR)
  u8s8_requantize_avx512(acc, j0, n, e, out);
#elif defined(__AVX2__) && !defined(PRIMSEL_FORCE_SCALAR)
  u8s8_requantize_avx2(acc, j0, n, e, out);
#else
  u8s8_requantize_scalar(acc, j0, n, e, out);
#endif
}

}  // namespace primsel::kernels
